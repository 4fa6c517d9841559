#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# otp_health, on both stores: 200 {"status":"ok"} with the store's
# latency and backend and each provider's recent figures; a provider's
# failure shows its last error's category and time; a provider over the
# alert's threshold makes it "degraded", still 200; with Redis stopped
# the answer is 503 "down", promptly; GET and HEAD only; a client that
# leaves while the store is asked is no fault.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Digest::SHA qw(hmac_sha1_base64 hmac_sha256_hex);
use IO::Socket::INET;
use Time::HiRes qw(time sleep);
use OtpTest;
use MockProvider qw(drop_log_lines);

###############################################################################

my $t = OtpTest->new;

my $mock = MockProvider->new(dir => $t->dir);

my $AC = 'ACa1b2c3d4e5f60718293a4b5c6d7e8f90';
my $TOKEN = 'tok1c0ffee5ecret0ddba11deadbeefab';

my $conf = <<'EOF';

%%GLOBALS%%
worker_processes 1;

events {
}

http {
    %%HTTP_GLOBALS%%

    %%STORE%%
    otp_secret_file %%SECRET%%;
    otp_provider tw twilio account_sid=@AC@ auth_token=@TOKEN@
                 from=+15005550006 base_url=@MOCK@;
    otp_public_url https://otp.example;

    otp_alert window=60s threshold=60% min=2;

    server {
        listen 127.0.0.1:%%PORT%%;

        otp_client_limit off;
        otp_resend_after 0s;

        location = /otp/send {
            otp_send;
        }

        location = /health {
            otp_health;
        }

        location = /hooks/twilio {
            otp_webhook tw;
        }

        location = /metrics {
            otp_metrics;
        }
    }

    # another app, with a provider of the same name: its own figures
    server {
        listen 127.0.0.1:%%PORT1%%;

        otp_secret_file %%PREFIX%%/b.secret;
        otp_provider tw twilio account_sid=@AC@ auth_token=@TOKEN@
                     from=+15005550007 base_url=@MOCK@;

        location = /health {
            otp_health;
        }
    }
}

EOF

my %subst = (AC => $AC, TOKEN => $TOKEN, MOCK => $mock->url);
$conf =~ s/@(AC|TOKEN|MOCK)@/$subst{$1}/g;

$t->write_file('b.secret', ('B' x 44) . "\n", 0600);
my $APP_B = substr(hmac_sha256_hex('otp-app-id', 'B' x 44), 0, 16);

my @stores = $t->stores;

$t->plan(23 * @stores + (grep { $_ eq 'redis' } @stores) * 6);

my $n = 0;
my $sid;

sub send_one {
    my $phone = sprintf '+1555077%04d', ++$n;
    $t->uses_phone($phone);
    my $r = $t->post_form('/otp/send', { phone => $phone });
    $sid = $r->{json}{message_id} if $r->{status} == 202 && $r->{json};
    return $r->{status};
}

sub esc {
    my ($s) = @_;
    $s =~ s/([^A-Za-z0-9\-._~])/sprintf('%%%02X', ord $1)/ge;
    return $s;
}

# a delivery report, signed as Twilio signs it
sub twilio {
    my (%p) = @_;

    my $sig = hmac_sha1_base64('https://otp.example/hooks/twilio'
                               . join('', map { $_ . $p{$_} } sort keys %p),
                               $TOKEN);
    $sig .= '=' while length($sig) % 4;

    return $t->post('/hooks/twilio', 'application/x-www-form-urlencoded',
                    join('&', map { esc($_) . '=' . esc($p{$_}) }
                              sort keys %p),
                    headers => { 'X-Twilio-Signature' => $sig });
}

for my $store (@stores) {

    $mock->reset;
    $t->write_config($conf, store => $store)->run;

    my $r = $t->get('/health');

    is($r->{status}, 200, "$store: 200");
    is($r->{headers}{'cache-control'}, 'no-store', "$store: not cached");

    my $j = $r->{json} // {};

    is($j->{status}, 'ok', "$store: ok");
    ok($j->{store}{ok}, "$store: the store answers");
    like($j->{store}{latency_ms} // '', qr/^\d+$/,
         "$store: with its latency ($j->{store}{latency_ms} ms)");
    is($j->{store}{backend}, $store, "$store: the backend");
    is_deeply($j->{providers},
              [ { name => 'tw', channels => [ 'sms' ],
                  attempts => 0, failures => 0, success_rate => undef,
                  last_error => undef, last_error_at => undef,
                  alert => JSON::PP::false } ],
              "$store: the provider, nothing sent yet");

    # a success, then a failure

    is(send_one(), 202, "$store: a send");

    $mock->on(qr{/Messages\.json$} => { status => 429,
                                        body => { message => 'slow' } });
    is(send_one(), 502, "$store: a throttled send");

    $j = $t->get('/health')->{json} // {};
    my $p = $j->{providers}[0] // {};

    is($j->{status}, 'ok', "$store: one failure of two: still ok");
    is($p->{last_error}, 'throttled', "$store: the last error's category");
    like($p->{last_error_at} // '', qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/,
         "$store: and when");
    is($p->{success_rate}, 50, "$store: success rate 50%");
    is($p->{attempts}, 2, "$store: of 2 attempts");

    # the accepted message undelivered: a failure of its provider, at
    # 2 of 2 over the threshold

    is(twilio(MessageSid => $sid, MessageStatus => 'undelivered',
              ErrorCode => '30003', AccountSid => $AC)->{status}, 200,
       "$store: a delivery report: undelivered");

    $r = $t->get('/health');
    $p = $r->{json}{providers}[0] // {};

    is($p->{last_error}, 'undelivered', "$store: the report's error");
    is("$p->{attempts} $p->{failures}", '2 2',
       "$store: a failure more, no attempt more");
    is($r->{status} . ' ' . ($r->{json}{status} // ''), '200 degraded',
       "$store: degraded, 200");

    is($t->post('/health', 'text/plain', 'x')->{status}, 405,
       "$store: POST refused");

    # the other app's provider of the same name: nothing of this one's

    $j = $t->get('/health', port => $t->port('PORT1'))->{json} // {};
    is($j->{status} . ' ' . ($j->{providers}[0]{attempts} // '') . ' '
       . ($j->{providers}[0]{last_error} // 'null'), 'ok 0 null',
       "$store: another app's \"tw\": its own figures");

    my $m = $t->get('/metrics')->{body} // '';
    like($m, qr/^otp_alert_firing\{kind="provider",name="tw"\} 1$/m,
         "$store: the gauge of this app's tw");
    like($m, qr/^otp_alert_firing\{kind="provider",app="$APP_B",name="tw"\} 0$/m,
         "$store: and of the other app's, with its app");

    if ($store eq 'redis') {

        # hung (SIGSTOP): 503 after the store's timeout (1 s), and a
        # client that leaves meanwhile disturbs nothing

        kill 'STOP', $t->{redis_pid};

        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $t->port);
        print $s "GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n";
        sleep 0.2;
        close $s;

        my $start = time;
        $r = $t->get('/health', timeout => 10);
        my $took = time - $start;

        is($r->{status} . ' ' . ($r->{json}{status} // ''), '503 down',
           "$store: Redis hung: 503 down");
        ok($took < 4, sprintf("$store: after the timeout (%.2f s)", $took));

        kill 'CONT', $t->{redis_pid};
        sleep 0.5;

        $t->stop_redis;

        $start = time;
        $r = $t->get('/health');
        $took = time - $start;

        is($r->{status}, 503, "$store: Redis stopped: 503");
        is($r->{json}{status}, 'down', "$store: down");
        ok($r->{json}{store} && !$r->{json}{store}{ok},
           "$store: the store does not answer");
        ok($took < 2, sprintf("$store: promptly (%.2f s)", $took));
    }

    $t->stop;

    # the alert of the "degraded" step (t/76-alert.t tests them)
    ok(drop_log_lines($t, qr/\[alert\].*otp alert firing: /) == 2,
       "$store: the provider's and the channel's alert lines");
}

$t->done;

###############################################################################
