#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# The Redis store fails closed (API.md: 503 store_unavailable, "never
# verify"): with Redis stopped, or hung, every send and verify answers 503
# (never 200), promptly, while the rest of nginx keeps serving; once Redis
# is back on the same port the module reconnects by itself, without a
# reload, within a few seconds.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use IO::Socket::INET;
use Time::HiRes qw(sleep time);
use OtpTest;

###############################################################################

my $t = OtpTest->new->need_redis;

$t->plan(21);

$t->write_config(<<'EOF', store => 'redis')->run;

%%GLOBALS%%
worker_processes 1;

events {
}

http {
    %%HTTP_GLOBALS%%

    %%STORE%%
    otp_secret_file %%SECRET%%;
    otp_provider dev log;

    server {
        listen 127.0.0.1:%%PORT%%;

        otp_client_limit off;
        otp_resend_after 0s;

        location = /otp/send {
            otp_send;
        }

        location = /otp/verify {
            otp_verify;
        }

        location = /plain {
            return 200 "ok\n";
        }
    }
}

EOF

sub unavailable {
    my ($r, $name) = @_;
    response_is($r, 503, { error => 'store_unavailable',
                           message => any_string }, $name);
}

# the first status other than 503 within $secs, and how long it took
sub until_available {
    my ($secs, $request) = @_;

    my $start = time;
    my $r;

    while (1) {
        $r = $request->();
        last if $r->{status} != 503 || time - $start > $secs;
        sleep 0.2;
    }

    return ($r, time - $start);
}

###############################################################################

my ($r, $code, $took);

# Redis up: a code is sent

($r, $code) = $t->send_code('/otp/send', { phone => '+15550160001' });
is($r->{status}, 202, 'up: send 202');

# Redis stopped: 503 on both endpoints, at once (the connection is refused)

$t->stop_redis;

my $start = time;
$r = $t->post_form('/otp/send', { phone => '+15550160002' });
unavailable($r, 'stopped: send 503 store_unavailable');

$r = $t->post_form('/otp/verify', { phone => '+15550160001', code => $code });
unavailable($r, 'stopped: verify with the right code 503, never 200');

$r = $t->post_form('/otp/verify',
                   { phone => '+15550160001', code => '000000' });
unavailable($r, 'stopped: verify with a wrong code 503');

ok(time - $start < 3, 'stopped: the 503s come at once');

$r = $t->get('/plain');
is("$r->{status} $r->{body}", "200 ok\n", 'stopped: other locations serve');

# bad input is still 400: it needs no store

$r = $t->post_form('/otp/send', { phone => 'nope' });
is($r->{status}, 400, 'stopped: bad input 400, not 503');

# Redis back on the same port: sends succeed again within seconds, with no
# reload

$t->start_redis;

($r, $took) = until_available(10, sub {
    $t->post_form('/otp/send', { phone => '+15550160003' });
});

is($r->{status}, 202, 'restarted: send 202 again');
ok($took < 10, sprintf('restarted: reconnected in %.1f s', $took));

$code = $t->code_for($r->{json}{message_id});
$r = $t->post_form('/otp/verify', { phone => '+15550160003', code => $code });
is($r->{status}, 200, 'restarted: verify 200');

# the codes of before were in a Redis without persistence: gone, so 410

$r = $t->post_form('/otp/verify',
                   { phone => '+15550160001', code => '000000' });
is($r->{status}, 410, 'restarted: a code Redis forgot 410 expired');

# Redis hung (SIGSTOP: it accepts connections but answers nothing): 503
# after the timeout (timeout=1s), not a request left hanging

($r, $code) = $t->send_code('/otp/send', { phone => '+15550160004' });

kill 'STOP', $t->{redis_pid};

$start = time;
$r = $t->post_form('/otp/verify', { phone => '+15550160004', code => $code },
                   timeout => 10);
$took = time - $start;
unavailable($r, 'hung: verify 503, never 200');
ok($took < 3, sprintf('hung: answered in %.1f s', $took));

$start = time;
$r = $t->post_form('/otp/send', { phone => '+15550160005' }, timeout => 10);
$took = time - $start;
unavailable($r, 'hung: send 503');
ok($took < 3, sprintf('hung: answered in %.1f s', $took));

$r = $t->get('/plain');
is("$r->{status} $r->{body}", "200 ok\n", 'hung: other locations serve');

# a client that goes away while its operation waits: the operation is
# cancelled or its answer dropped, and nothing else is disturbed

my $body = 'phone=%2B15550160005&code=123456';
my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $t->port);
print $s "POST /otp/verify HTTP/1.1\r\nHost: localhost\r\n"
    . "Content-Type: application/x-www-form-urlencoded\r\n"
    . 'Content-Length: ' . length($body) . "\r\n\r\n$body";
sleep 0.2;
close $s;

$r = $t->get('/plain');
is($r->{status}, 200, 'hung: a client gone mid-wait disturbs nothing');

# several timeouts in a row: the connection is replaced, and everything
# works again once Redis answers

$t->post_form('/otp/send', { phone => '+15550160005' }, timeout => 10)
    for 1 .. 2;

kill 'CONT', $t->{redis_pid};

($r, $took) = until_available(10, sub {
    $t->post_form('/otp/send', { phone => '+15550160006' });
});

is($r->{status}, 202, 'resumed: send 202 again');
ok($took < 10, sprintf('resumed: back in %.1f s', $took));

# (the verify that timed out may still run when Redis wakes up: the code
# of before the hang may be gone; a new one verifies)

$code = $t->code_for($r->{json}{message_id});
$r = $t->post_form('/otp/verify', { phone => '+15550160006', code => $code });
is($r->{status}, 200, 'resumed: verify 200');

$r = $t->get('/plain');
is($r->{status}, 200, 'resumed: other locations serve');

$t->done;

###############################################################################
