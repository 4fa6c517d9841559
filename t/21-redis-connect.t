#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# A worker's Redis connection and the requests that come before it is
# ready.  API.md answers 503 store_unavailable when "the state store
# (Redis) cannot be reached"; a Redis that answers within the configured
# connect_timeout (1s here) can be reached.  So a request that reaches a
# worker still connecting (just started, just reloaded) waits for the
# connection instead of failing at once.  Redis is made slow so that the
# window is certain, not a race: SIGSTOP before nginx starts or reloads,
# SIGCONT 0.3 s after the new worker runs, within its connect_timeout.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use POSIX qw(_exit);
use Time::HiRes qw(sleep time);
use OtpTest;

###############################################################################

my $t = OtpTest->new->need_redis;

$t->plan(6);

$t->write_config(<<'EOF', store => 'redis');

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

        location = /otp/send {
            otp_send;
        }

        location = /otp/verify {
            otp_verify;
        }
    }
}

EOF

# Redis goes on after $secs, from a child of ours
sub cont_redis_after {
    my ($secs) = @_;

    my $redis = $t->{redis_pid};
    my $pid = fork() // die "fork: $!";

    if ($pid == 0) {
        sleep $secs;
        kill 'CONT', $redis;
        _exit(0);
    }

    return $pid;
}

###############################################################################

my ($r, $code, $start, $waiter);

# a worker that starts while Redis is slow

$t->start_redis;
kill 'STOP', $t->{redis_pid};
$t->run(store_wait => 0);
$waiter = cont_redis_after(0.3);

$start = time;
$r = $t->post_form('/otp/verify',
                   { phone => '+15550210001', code => '123456' });
waitpid($waiter, 0);

response_is($r, 410, { error => 'expired', message => any_string },
            'start: a request while the worker connects waits: 410, not 503');
ok(time - $start < 2, 'start: answered within connect_timeout');

# a reload while Redis is slow: the new worker connects anew

($r, $code) = $t->send_code('/otp/send', { phone => '+15550210002' });
is($r->{status}, 202, 'reload: send 202');

kill 'STOP', $t->{redis_pid};
$t->reload;
$waiter = cont_redis_after(0.3);

$start = time;
$r = $t->post_form('/otp/verify', { phone => '+15550210002', code => $code });
waitpid($waiter, 0);

response_is($r, 200, { verified => true, token => qr/\./ },
            'reload: a request while the new worker connects waits: 200');
ok(time - $start < 2, 'reload: answered within connect_timeout');

# and all is well once connected

($r, $code) = $t->send_code('/otp/send', { phone => '+15550210003' });
$r = $t->post_form('/otp/verify', { phone => '+15550210003', code => $code });
is($r->{status}, 200, 'after: send and verify');

$t->done;

###############################################################################
