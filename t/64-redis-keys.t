#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# The Redis store's keys, as README's "The Redis store's keys" documents
# them (issue 9, item 4): a scripted set of operations (a send and its
# verify, a resend, wrong guesses to a lock, a code left live, a STOP, a
# delivery report that wakes a long-poll, a provider's budget=, a second
# app's message and budget, a Standard Webhooks call and its replay) and
# then every key in Redis (SCAN) must match one documented pattern, have
# the documented type, and a TTL within the documented rule: no key
# without TTL but the opt-out list.  Every documented pattern must have
# been seen, so that the table and the test cannot drift apart quietly.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Time::HiRes qw(sleep time);
use Digest::SHA qw(hmac_sha256 hmac_sha256_hex);
use MIME::Base64 qw(encode_base64);
use OtpTest;
use OtpStatus;
use MockProvider;

###############################################################################

my $t = OtpTest->new;

$t->{redis_bin}
    or plan(skip_all => 'redis-server not found: the key schema is '
                        . 'Redis\'s (scripts/install-deps installs it)');

$t->need_redis;

# the documented keys: pattern, type, TTL rule (ms, from the settings
# below); a rule is [lo, hi] for PTTL, or 'none' for a key kept for good

my $HEX = qr/[0-9a-f]{64}/;
my $APP = qr/[0-9a-f]{16}/;
my $NAME = qr/[A-Za-z0-9_-]{1,32}/;

# a provider's message id (printable ASCII, no space, quote or backslash,
# at most NGX_OTP_WIRE_ID_LEN: ngx_otp_core.h, the provider answer's id)
my $ID = qr/[!#-\[\]-~]{1,128}/;

my %S = (ttl => 300_000, lockout => 600_000, failure_window => 7_200_000,
         send_window => 900_000, client_window => 3_600_000,
         message_ttl => 3_600_000, tolerance => 300_000,
         budget_slack => 60_000);

my @schema = (
    [ 'phone record', qr/^otp:\{$HEX\}:r$/, 'hash',
      [ 1, (sort { $b <=> $a } @S{qw(ttl lockout failure_window)})[0] ] ],
    [ 'phone send window', qr/^otp:\{$HEX\}:w$/, 'hash',
      [ 1, $S{send_window} ] ],
    [ 'opt-out', qr/^otp:\{$HEX\}:o$/, 'string', 'none' ],
    [ 'client send window', qr/^otp:c:\{$HEX\}$/, 'hash',
      [ 1, $S{client_window} ] ],
    [ 'budget counter', qr/^otp:b:\{$NAME\}:(\d+)$/, 'string',
      'hour' ],
    [ 'app budget counter', qr/^otp:b:\{$APP:$NAME\}:(\d+)$/, 'string',
      'hour' ],
    [ 'app message record', qr/^otp:m:\{$APP:$ID\}$/, 'hash',
      [ 1, $S{message_ttl} ] ],
    [ 'message record', qr/^otp:m:\{$ID\}$/, 'hash',
      [ 1, $S{message_ttl} ] ],
    [ 'webhook id seen', qr/^otp:s:\{$HEX\}$/, 'string',
      [ 1, 2 * $S{tolerance} ] ],
    [ 'analytics hour', qr/^otp:\{a\}:(\d+)$/, 'hash', 'analytics' ],
);

$t->plan(13 + @schema);

my $mock = MockProvider->new(dir => $t->dir);
$mock->on(qr{^/app/} => { status => 200, body => { app => 'ok' } });

my $AC = 'AC64646464646464646464646464646464';
my $ACA = 'AC646464646464646464646464646464aa';
my $TOKEN = 'tok64keys0ddba11deadbeef64646464';
my $WHKEY = 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

$t->write_file('a.secret', ('A' x 44) . "\n", 0600);
$t->write_file('wh.secret', 'whsec_' . encode_base64($WHKEY, '') . "\n",
               0600);

my $conf = <<'EOF';

%%GLOBALS%%
worker_processes 1;

events {
}

http {
    %%HTTP_GLOBALS%%

    %%STORE%%
    otp_secret_file %%SECRET%%;

    otp_provider dev log;
    otp_provider tw twilio account_sid=@AC@ auth_token=@TOKEN@
                 from=+15005550006 base_url=@MOCK@ budget=50/h;

    otp_route sms +1555066 tw;
    otp_route sms default dev;

    otp_message_ttl 1h;

    otp_ttl 5m;
    otp_lockout 10m;
    otp_max_attempts 3;
    otp_max_failures 20/2h;
    otp_resend_after 0s;
    otp_send_limit 5/15m;
    otp_client_limit 50/1h;

    # the http level's app
    server {
        listen 127.0.0.1:%%PORT%%;

        otp_public_url http://127.0.0.1:%%PORT%%;

        location = /otp/send {
            otp_send;
        }

        location = /otp/verify {
            otp_verify;
        }

        location /otp/status/ {
            otp_status;
        }

        location = /hooks/tw {
            otp_webhook tw;
        }

        location /app/ {
            otp_signature standard_webhooks
                          secret_file=%%PREFIX%%/wh.secret tolerance=5m;
            proxy_pass @MOCK@;
        }
    }

    # an app of its own: its message records and budgets under its id
    server {
        listen 127.0.0.1:%%PORT1%%;

        otp_secret_file %%PREFIX%%/a.secret;
        otp_provider tw twilio account_sid=@ACA@ auth_token=@TOKEN@
                     from=+15005550006 base_url=@MOCK@ budget=10/h;
        otp_public_url http://127.0.0.1:%%PORT1%%;

        location = /otp/send {
            otp_send;
        }
    }
}

EOF

my %subst = (MOCK => $mock->url, AC => $AC, ACA => $ACA, TOKEN => $TOKEN);
$conf =~ s/@(AC|ACA|TOKEN|MOCK)@/$subst{$1}/g;

# budgets count per clock hour: keep clear of the hour's end
my $left = 3600 - time % 3600;

if ($left < 30) {
    diag("waiting ${left}s for the next hour to start");
    sleep $left + 1;
}

$t->write_config($conf, store => 'redis')->run;

sub wrong {
    my ($code, $n) = @_;
    return sprintf('%06d', ($code + $n) % 1000000);
}

###############################################################################

# the operations

my ($r, $code);

# a send and its verify
($r, $code) = $t->send_code('/otp/send', { phone => '+15550640001' });
$r = $t->post_form('/otp/verify', { phone => '+15550640001',
                                    code => $code });
my $ok = $r->{status} == 200;

# a send, a resend, wrong guesses to a lock
$t->send_code('/otp/send', { phone => '+15550640002' });
($r, $code) = $t->send_code('/otp/send', { phone => '+15550640002' });
my @g = map {
    $t->post_form('/otp/verify', { phone => '+15550640002',
                                   code => wrong($code, $_) })->{status}
} 1 .. 4;
$ok &&= "@g" eq '401 401 401 429';

# a code left live
($r) = $t->send_code('/otp/send', { phone => '+15550640003' });
$ok &&= $r->{status} == 202;

# a STOP
$t->uses_phone('+15550640004');
$r = twilio_report($t, '/hooks/tw', $TOKEN, AccountSid => $AC,
                   MessageSid => 'SM64' . ('0' x 30),
                   From => '+15550640004', To => '+15005550006',
                   Body => 'STOP', NumMedia => '0',
                   SmsStatus => 'received');
$ok &&= $r->{status} == 200;

# a message through a provider with a budget, a long-poll on it ended by
# its delivery report
$r = $t->post_form('/otp/send', { phone => '+15550660001' });
my $sid = $r->{json} && $r->{json}{message_id} // '';
$ok &&= $r->{status} == 202 && $sid =~ /^SM/;

my $h = poll_start($t, "/otp/status/$sid?wait=10");
sleep 0.3;
twilio_report($t, '/hooks/tw', $TOKEN, AccountSid => $AC,
              MessageSid => $sid, MessageStatus => 'delivered');
$r = poll_finish($h, 15);
$ok &&= $r->{status} == 200 && ($r->{json}{status} // '') eq 'delivered';

# the second app's message, under its budget
$r = $t->post_form('/otp/send', { phone => '+15550660002' },
                   port => $t->port('PORT1'));
my $asid = $r->{json} && $r->{json}{message_id} // '';
$ok &&= $r->{status} == 202;

# a Standard Webhooks call, and its replay
my $ts = int time;
my $body = '{"type":"message.delivered"}';
my $wsig = 'v1,' . encode_base64(hmac_sha256("msg_64.$ts.$body", $WHKEY),
                                 '');
my @w = map {
    $t->post('/app/hook', 'application/json', $body,
             headers => { 'webhook-id' => 'msg_64',
                          'webhook-timestamp' => $ts,
                          'webhook-signature' => $wsig })->{status}
} 1 .. 2;
$ok &&= "@w" eq '200 403';

ok($ok, 'the operations answered as they should')
    or diag("guesses @g, webhook @w, last $r->{status} $r->{body}");

###############################################################################

# every key in Redis

my (@keys, $cursor);
$cursor = 0;

do {
    my @reply = split /\n/,
        $t->redis_command('SCAN', $cursor, 'COUNT', 1000) // '';
    $cursor = shift @reply // 0;
    push @keys, @reply;
} while ($cursor ne '0');

my %uniq = map { $_ => 1 } @keys;
@keys = sort keys %uniq;

cmp_ok(scalar @keys, '>=', scalar @schema, 'keys in Redis: ' . @keys);

my (%seen, @unknown, @bad_type, @bad_ttl);
my $now_ms = int(time * 1000);

for my $key (@keys) {
    my ($entry) = grep { $key =~ $_->[1] } @schema;

    if (!$entry) {
        push @unknown, $key;
        next;
    }

    my ($what, $re, $type, $rule) = @$entry;
    $seen{$what}++;

    my $ktype = $t->redis_command('TYPE', $key) // '';
    push @bad_type, "$key: $ktype, documented $type" if $ktype ne $type;

    my $pttl = $t->redis_command('PTTL', $key) // '';

    if ($rule eq 'none') {
        push @bad_ttl, "$key: PTTL $pttl, documented none" if $pttl != -1;

    } elsif ($rule eq 'hour') {
        # the hour since the epoch it counts, kept to the hour's end and
        # the slack after it
        my ($hour) = $key =~ $re;
        my $end = ($hour + 1) * 3_600_000 + $S{budget_slack};
        push @bad_ttl, "$key: PTTL $pttl, documented to $end"
            unless $hour == int($now_ms / 3_600_000) && $pttl > 0
                   && abs($now_ms + $pttl - $end) < 5000;

    } elsif ($rule eq 'analytics') {
        # unix seconds of the hour, kept to its end and the retention
        # after it (otp_analytics_retention, 8d by default)
        my ($hour) = $key =~ $re;
        my $end = ($hour + 3600) * 1000 + 8 * 86_400_000;
        push @bad_ttl, "$key: PTTL $pttl, documented to $end"
            unless $hour == int($now_ms / 3_600_000) * 3600 && $pttl > 0
                   && abs($now_ms + $pttl - $end) < 5000;

    } else {
        push @bad_ttl, "$key: PTTL $pttl, documented $rule->[0]..$rule->[1]"
            unless $pttl >= $rule->[0] && $pttl <= $rule->[1];
    }
}

is(join(', ', @unknown), '', 'every key matches a documented pattern');
is(join(', ', @bad_type), '', 'every key has its documented type');
is(join(', ', @bad_ttl), '', 'every key\'s TTL is within its documented '
   . 'rule (none only for opt-outs)');

for my $e (@schema) {
    ok($seen{ $e->[0] }, "seen: $e->[0]");
}

# and the particular keys the operations made

my $secret = $t->read_file('otp.key');
$secret =~ s/\r?\n\z//;

sub pkey {
    my ($phone, $suffix) = @_;
    return 'otp:{' . hmac_sha256_hex("otp-phone\0$phone", $secret)
           . "}:$suffix";
}

is($t->redis_command('EXISTS', pkey('+15550640001', 'r')), 0,
   'a verified code: its record gone');
is($t->redis_command('EXISTS', pkey('+15550640001', 'w')), 1,
   'a verified code: its send window kept');

my $lock = $t->redis_command('HGET', pkey('+15550640002', 'r'), 'lock')
           // 0;
my $pttl = $t->redis_command('PTTL', pkey('+15550640002', 'r')) // -3;
ok($lock > $now_ms && $now_ms + $pttl >= $lock - 1000,
   'a locked number: the record lives at least until the lock ends')
    or diag("lock $lock, PTTL $pttl, now $now_ms");

is($t->redis_command('PTTL', pkey('+15550640004', 'o')), -1,
   'the STOP: opt-out key without TTL');

is($t->redis_command('HGET', "otp:m:{$sid}", 'status'), 'delivered',
   'the message record holds the reported status');

my $app = substr(hmac_sha256_hex('otp-app-id', 'A' x 44), 0, 16);
# (a counter an hour: two when the test runs across the top of one)
ok(scalar(my @b = grep { /^otp:b:\{$app:tw\}:\d+$/ } @keys),
   'the second app\'s budget under its app id');

is($t->redis_command('EXISTS', "otp:m:{$app:$asid}"), 1,
   'the second app\'s message record under its app id');

ok(scalar(my @c = grep { /^otp:b:\{tw\}:\d+$/ } @keys),
   'the http level\'s budget under the plain name');

###############################################################################

$mock->stop;
$t->done;

###############################################################################
