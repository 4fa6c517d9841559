#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# Many nginx instances, one truth (issue 9, item 1): two nginx instances,
# A and B (separate prefixes, ports and workers), on one Redis, every
# contract checked in both directions:
#
# - a code sent through A verifies through B, and one sent through B
#   verifies through A (and a consumed code is 410 on the other);
# - 50 concurrent wrong guesses for one number, split over both, compare
#   exactly otp_max_attempts of them (401, attempts_remaining 4..0, each
#   once), refuse the other 45 (429 too_many_attempts), and the right code
#   afterwards is 429 on both;
# - limits are the store's: the resend window (otp_resend_after), the
#   per-number window (otp_send_limit), the per-client window
#   (otp_client_limit) and a provider's budget= count sends through both;
#   the provider over budget is asked exactly budget times and the
#   [alert] is logged once, by one of the two;
# - a STOP received by A's otp_webhook makes a send through B 403
#   opted_out (no provider asked), and a START through B undoes it for A;
# - a delivery report received by one instance wakes a long-poll held by
#   the other, both ways;
# - a stricter location on A (otp_max_attempts 2, otp_lockout 2h) sets
#   limits that a send through B's looser location cannot loosen: the
#   record keeps 2 attempts and the 2 h lock, and lives in Redis at least
#   as long as that lock; a send window opened by a location with a
#   shorter window than A's otp_send_limit 2/1h lasts A's hour once A
#   counts in it.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Time::HiRes qw(sleep time);
use Digest::SHA qw(hmac_sha256_hex);
use OtpTest;
use OtpStatus;
use MockProvider qw(log_lines drop_log_lines);

###############################################################################

my $A = OtpTest->new;

$A->{redis_bin}
    or plan(skip_all => 'redis-server not found: the multi-instance test '
                        . 'needs Redis (scripts/install-deps installs it)');

$A->need_redis;

my $B = OtpTest->new->share_store_with($A);

# and B's own implicit log checks
$A->plan(51 + OtpTest::IMPLICIT_TESTS);

my $mock = MockProvider->new(dir => $A->dir);

my $AC = 'AC63636363636363636363636363636363';
my $ACCAP = 'AC636363636363636363636363636cafe0';
my $TOKEN = 'tok63instances0ddba11deadbeef63';

my $conf = <<'EOF';

%%GLOBALS%%
worker_processes 2;

events {
    worker_connections 256;
}

http {
    %%HTTP_GLOBALS%%

    %%STORE%%
    otp_secret_file %%SECRET%%;
    otp_token_key_file %%TOKEN_KEY%% shared-1;

    otp_provider dev log;

    otp_provider tw twilio account_sid=@AC@ auth_token=@TOKEN@
                 from=+15005550006 base_url=@MOCK@;

    otp_provider capped twilio account_sid=@ACCAP@ auth_token=@TOKEN@
                 from=+15005550006 base_url=@MOCK@ budget=2/h;

    otp_route sms +1555063 tw;
    otp_route sms +1555064 capped;
    otp_route sms default dev;

    server {
        listen 127.0.0.1:%%PORT%%;

        otp_public_url http://127.0.0.1:%%PORT%%;
        otp_client_limit off;
        otp_max_attempts 5;
        otp_resend_after 30s;
        otp_send_limit 3/15m;

        location = /otp/send {
            otp_send;
        }

        location = /otp/send/now {
            otp_resend_after 0s;
            otp_send;
        }

        location = /otp/send/client {
            otp_resend_after 0s;
            otp_client_limit 3/1h;
            otp_send;
        }

@STRICT@
        location = /otp/verify {
            otp_verify;
        }

        location /otp/status/ {
            otp_status;
        }

        location = /hooks/tw {
            otp_webhook tw;
        }
    }
}

EOF

# A only: a location with stricter settings than the server's
my $strict = <<'EOF';
        location = /otp/send/strict {
            otp_resend_after 0s;
            otp_max_attempts 2;
            otp_lockout 2h;
            otp_send_limit 2/1h;
            otp_send;
        }

EOF

my %subst = (MOCK => $mock->url, AC => $AC, ACCAP => $ACCAP,
             TOKEN => $TOKEN);
$conf =~ s/@(AC|ACCAP|TOKEN|MOCK)@/$subst{$1}/g;

(my $conf_a = $conf) =~ s/\@STRICT\@\n/$strict/;
(my $conf_b = $conf) =~ s/\@STRICT\@\n//;

# budgets count per clock hour: keep clear of the hour's end

my $left = 3600 - time % 3600;

if ($left < 40) {
    diag("waiting ${left}s for the next hour to start");
    sleep $left + 1;
}

# its budget=N/h sends in one clock hour
OtpTest::clear_of_the_hour();

$A->write_config($conf_a, store => 'redis')->run;
$B->write_config($conf_b, store => 'redis')->run;

my %name = ($A => 'A', $B => 'B');

sub wrong {
    my ($code, $n) = @_;
    return sprintf('%06d', ($code + $n) % 1000000);
}

# a send through one instance, with the code from that instance's log
sub send_via {
    my ($h, $path, $phone) = @_;

    $_->uses_phone($phone) for $A, $B;

    return $h->send_code($path, { phone => $phone });
}

sub verify_via {
    my ($h, $phone, $code) = @_;

    $_->uses_phone($phone) for $A, $B;

    return $h->post_form('/otp/verify', { phone => $phone, code => $code });
}

# a signed Twilio callback (status report or incoming message) to an
# instance's /hooks/tw, for the URL its otp_public_url names
sub hook {
    my ($h, %p) = @_;
    return twilio_report($h, '/hooks/tw', $TOKEN, AccountSid => $AC, %p);
}

my $seq = 0;

sub incoming {
    my ($h, $from, $text) = @_;

    $_->uses_phone($from) for $A, $B;

    return hook($h, MessageSid => sprintf('SM63%030d', ++$seq),
                From => $from, To => '+15005550006', Body => $text,
                NumMedia => '0', SmsStatus => 'received');
}

# the last count of waiters an instance's worker logged
sub waiters {
    my ($h, $want, $timeout) = @_;

    my $deadline = time + ($timeout // 10);
    my $last;

    while (1) {
        my @n = $h->read_file('error.log') =~ /otp\ wait:\ waiter\ \S+
            \ (?:added\ to\ node\ \S+|removed),\ (\d+)\ waiters/xg;
        $last = $n[-1] // 0;
        return $last if $last == $want || time > $deadline;
        sleep 0.05;
    }
}

# the phone record's key as the module writes it (otp:{HMAC}:r)
my $secret = $A->read_file('otp.key');
$secret =~ s/\r?\n\z//;

sub record_key {
    my ($phone) = @_;
    return 'otp:{' . hmac_sha256_hex("otp-phone\0$phone", $secret) . '}:r';
}

###############################################################################

# sent through one, verified through the other, both ways

for my $dir ([ $A, $B, '+15550650001' ], [ $B, $A, '+15550650002' ]) {
    my ($from, $to, $phone) = @$dir;
    my $how = "$name{$from} to $name{$to}";

    my ($r, $code) = send_via($from, '/otp/send', $phone);
    ok($r->{status} == 202 && defined $code, "$how: sent through $name{$from}");

    $r = verify_via($to, $phone, $code);
    my (undef, undef, $sig_ok) = eval {
        jwt_decode($r->{json}{token}, $A->token_key)
    };
    ok($r->{status} == 200 && $sig_ok,
       "$how: verified through $name{$to}, token signed with the shared key")
        or diag("$r->{status} $r->{body}");

    $r = verify_via($from, $phone, $code);
    response_is($r, 410, { error => 'expired', message => any_string },
                "$how: consumed, $name{$from} answers 410");
}

# 50 concurrent wrong guesses, split between A and B

{
    my $phone = '+15550650003';
    my (undef, $code) = send_via($A, '/otp/send', $phone);

    my @answers = $A->concurrently(50, sub {
        my ($i) = @_;
        ($i % 2 ? $A : $B)->post_form('/otp/verify',
                                      { phone => $phone,
                                        code => wrong($code, $i) });
    });

    my @compared = grep { $_->{status} == 401 } @answers;
    my @refused = grep { $_->{status} == 429 } @answers;

    is(scalar(@compared) . ' ' . scalar(@refused), '5 45',
       'storm: 5 guesses compared (401), 45 refused (429), none else');

    my @left = sort { $a <=> $b }
               map { $_->{json}{attempts_remaining} // -1 } @compared;
    is("@left", '0 1 2 3 4',
       'storm: attempts_remaining 4 to 0, each exactly once');

    ok(!grep({ ($_->{json}{error} // '') ne 'invalid_code' } @compared)
       && !grep({ ($_->{json}{error} // '') ne 'too_many_attempts'
                  || !(($_->{json}{retry_after} // 0) > 0) } @refused),
       'storm: 401 invalid_code, 429 too_many_attempts with retry_after');

    for my $h ($A, $B) {
        my $r = verify_via($h, $phone, $code);
        response_is($r, 429, { error => 'too_many_attempts',
                               message => any_string,
                               retry_after => int_in(1, 900) },
                    "storm: the right code afterwards, through $name{$h}:"
                    . ' 429');
    }
}

# the resend window, both ways

for my $dir ([ $A, $B, '+15550650004' ], [ $B, $A, '+15550650005' ]) {
    my ($from, $to, $phone) = @$dir;

    send_via($from, '/otp/send', $phone);

    my $r = $to->post_form('/otp/send', { phone => $phone });
    response_is($r, 429, { error => 'rate_limited', message => any_string,
                           retry_after => int_in(1, 30) },
                "resend window: $name{$from} then $name{$to} at once: 429");
}

# otp_send_limit 3/15m counts sends through both

{
    my $phone = '+15550650006';
    my @s = map { $_->post_form('/otp/send/now', { phone => $phone })
                     ->{status} } $A, $B, $A;
    $_->uses_phone($phone) for $A, $B;

    is("@s", '202 202 202', 'send limit: A, B, A accepted');

    for my $h ($B, $A) {
        my $r = $h->post_form('/otp/send/now', { phone => $phone });
        response_is($r, 429, { error => 'rate_limited', message => any_string,
                               retry_after => int_in(1, 900) },
                    "send limit: the 4th, through $name{$h}: 429");
    }
}

# otp_client_limit 3/1h counts this client's sends through both

{
    my @s = map {
        my ($h, $phone) = @$_;
        $_->uses_phone($phone) for $A, $B;
        $h->post_form('/otp/send/client', { phone => $phone })->{status}
    } [ $A, '+15550650101' ], [ $B, '+15550650102' ],
      [ $A, '+15550650103' ];

    is("@s", '202 202 202', 'client limit: A, B, A accepted');

    for my $h ($B, $A) {
        my $phone = '+1555065010' . (4 + ($h == $A));
        $_->uses_phone($phone) for $A, $B;
        my $r = $h->post_form('/otp/send/client', { phone => $phone });
        response_is($r, 429, { error => 'rate_limited', message => any_string,
                               retry_after => int_in(1, 3600) },
                    "client limit: a 4th number, through $name{$h}: 429");
    }
}

# a provider's budget=2/h counts sends through both

{
    my $capped = qr{^/2010-04-01/Accounts/$ACCAP/Messages\.json$};

    my @s = map {
        my ($h, $phone) = @$_;
        $_->uses_phone($phone) for $A, $B;
        my $r = $h->post_form('/otp/send', { phone => $phone });
        $r->{status} . ' ' . ($r->{json}{provider} // '')
    } [ $A, '+15550640001' ], [ $B, '+15550640002' ];

    is("@s", '202 capped 202 capped', 'budget: one send through A, one '
       . 'through B');

    for my $h ($A, $B) {
        my $phone = '+1555064000' . (3 + ($h == $B));
        $_->uses_phone($phone) for $A, $B;
        my $r = $h->post_form('/otp/send', { phone => $phone });
        response_is($r, 429, { error => 'rate_limited', message => any_string,
                               retry_after => int_in(1, 3600) },
                    "budget: the third, through $name{$h}: 429");
    }

    is(scalar(my @r = $mock->requests($capped)), 2,
       'budget: the provider was asked twice in all');

    my $alert = qr/\[alert\].*otp provider "capped" spent its budget/;
    is(log_lines($A, $alert) + log_lines($B, $alert), 1,
       'budget: one [alert] between the two instances');
}

# opt-outs: STOP through A, send through B; START through B, send via A

{
    my $phone = '+15550650007';

    is((send_via($B, '/otp/send', $phone))[0]{status}, 202,
       'opt-out: B sends before the STOP');

    my $r = incoming($A, $phone, 'STOP');
    ok($r->{status} == 200 && $r->{body} =~ m{<Response/>},
       'opt-out: A\'s webhook takes the signed STOP') or diag($r->{body});

    my $before = scalar(my @m = $mock->requests);
    $r = $B->post_form('/otp/send/now', { phone => $phone });
    response_is($r, 403, { error => 'opted_out', message => any_string },
                'opt-out: a send through B is 403 opted_out');
    is(scalar(@m = $mock->requests), $before,
       'opt-out: and no provider was asked');

    $r = $A->post_form('/otp/send/now', { phone => $phone });
    is($r->{status}, 403, 'opt-out: through A too');

    $r = incoming($B, $phone, 'START');
    is($r->{status}, 200, 'opt-out: B\'s webhook takes the START');

    is($A->post_form('/otp/send/now', { phone => $phone })->{status}, 202,
       'opt-out: A sends again after B\'s START');
}

# a report received by one instance wakes the other's long-poll

for my $dir ([ $A, $B, '+15550630008' ], [ $B, $A, '+15550630009' ]) {
    my ($hook_h, $poll_h, $phone) = @$dir;
    my $how = "report to $name{$hook_h}, long-poll on $name{$poll_h}";

    $_->uses_phone($phone) for $A, $B;

    my $r = $hook_h->post_form('/otp/send', { phone => $phone });
    my $sid = $r->{json} && $r->{json}{message_id};
    ok($r->{status} == 202 && ($r->{json}{provider} // '') eq 'tw'
       && $sid, "$how: sent through tw") or diag($r->{body});

    my $h = poll_start($poll_h, "/otp/status/$sid?wait=20");
    is(waiters($poll_h, 1), 1, "$how: the waiter is held");

    my $sent = time;
    is(hook($hook_h, MessageSid => $sid, MessageStatus => 'delivered')
       ->{status}, 200, "$how: the report accepted");

    $r = poll_finish($h, 25);
    my $late = time - $sent;

    # coarse: a wait that ran out would take 20 s
    ok($r->{status} == 200 && ($r->{json}{status} // '') eq 'delivered'
       && $late < 5, "$how: answered delivered by the report")
        or diag("status $r->{status} after $late s: $r->{body}");

    is(waiters($poll_h, 0, 5), 0, "$how: no waiter left");
}

# a stricter location never loosens a live record

{
    my $phone = '+15550650010';
    my $key = record_key($phone);

    # A strict (2 attempts, 2 h lock), then B's server settings (5, 15m)
    my ($r, $code) = send_via($A, '/otp/send/strict', $phone);
    is($r->{status}, 202, 'strict: sent through A\'s strict location');

    is($A->redis_command('EXISTS', $key), 1,
       'strict: the record is where the key schema says');

    ($r, $code) = send_via($B, '/otp/send/now', $phone);
    is($r->{status}, 202, 'strict: resent through B\'s looser location');

    $r = verify_via($B, $phone, wrong($code, 1));
    response_is($r, 401, { error => 'invalid_code', message => any_string,
                           attempts_remaining => number(1) },
                'strict: a wrong guess through B leaves 1 (of A\'s 2)');

    $r = verify_via($A, $phone, wrong($code, 2));
    response_is($r, 401, { error => 'invalid_code', message => any_string,
                           attempts_remaining => number(0) },
                'strict: the second, through A, leaves 0');

    $r = verify_via($B, $phone, $code);
    response_is($r, 429, { error => 'too_many_attempts',
                           message => any_string,
                           retry_after => int_in(3600, 7200) },
                'strict: the right code is refused, for A\'s 2 h lock');

    $r = $B->post_form('/otp/send/now', { phone => $phone });
    response_is($r, 429, { error => 'rate_limited', message => any_string,
                           retry_after => int_in(3600, 7200) },
                'strict: B\'s looser send cannot lift the lock');

    my $pttl = $A->redis_command('PTTL', $key) // -3;
    ok($pttl >= 7100_000,
       'strict: the record lives in Redis as long as the 2 h lock')
        or diag("PTTL $key: $pttl");

    # B first, then A's strict location: the strict limits apply at once
    $phone = '+15550650011';
    send_via($B, '/otp/send/now', $phone);
    ($r, $code) = send_via($A, '/otp/send/strict', $phone);

    $r = verify_via($B, $phone, wrong($code, 1));
    response_is($r, 401, { error => 'invalid_code', message => any_string,
                           attempts_remaining => number(1) },
                'strict: resent through A\'s strict location: 1 left');

    # the send window: one opened by B's 3/15m, then A's 2/1h; A's limit
    # is 2 sends an hour, so the window that holds its count must last
    # the hour from its first send, not B's 15 minutes (after which A's
    # location would take 2 more: 4 an hour)
    $phone = '+15550650012';
    send_via($B, '/otp/send/now', $phone);
    send_via($A, '/otp/send/strict', $phone);

    $r = $A->post_form('/otp/send/strict', { phone => $phone });
    response_is($r, 429, { error => 'rate_limited',
                           message => any_string,
                           retry_after => int_in(3000, 3600) },
                'strict: a 1h send limit holds the window for the hour,'
                . ' whoever opened it');
}

###############################################################################

$B->stop;
$A->stop;

# the budget's [alert] was expected and counted above
drop_log_lines($_, qr/\[alert\].*otp provider "capped" spent its budget/)
    for $A, $B;

$B->check_log;
$mock->stop;
$A->done;

###############################################################################
