#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# A worker that exits gracefully while an operation waits on a Redis that
# never answers is gone within worker_shutdown_timeout, not the store's
# timeout: nginx sets c->close on the Redis connection and calls its read
# handler, which closes it and answers what is pending
# (src/ngx_http_otp_store.h, "When a worker exits").  Nothing crashes:
# no [alert] (a worker dying on a signal is one) in error.log.

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

$t->plan(4);

$t->write_config(<<'EOF', store => 'redis');

%%GLOBALS%%
worker_processes 1;
worker_shutdown_timeout 1s;

events {
}

http {
    %%HTTP_GLOBALS%%

    otp_store redis://127.0.0.1:%%REDIS_PORT%% timeout=30s;
    otp_secret_file %%SECRET%%;
    otp_provider dev log;

    server {
        listen 127.0.0.1:%%PORT%%;

        location = /otp/verify {
            otp_verify;
        }
    }
}

EOF

###############################################################################

$t->run;

# Redis stops answering; a verify waits on it (for up to 30s)

kill 'STOP', $t->{redis_pid};

pipe(my $res_r, my $res_w) or die "pipe: $!";

my $kid = fork() // die "fork: $!";

if ($kid == 0) {
    close $res_r;
    my $r = $t->post_form('/otp/verify',
                          { phone => '+15550290001', code => '123456' },
                          timeout => 40);
    syswrite $res_w, "$r->{status}\n";
    _exit(0);
}

close $res_w;
$t->uses_phone('+15550290001');

# the verify has reached the silent Redis (the debug log says so)

my $deadline = time + 5;

while (time < $deadline
       && $t->read_file('error.log') !~ /otp store: redis op \d+ start/)
{
    sleep 0.05;
}

like($t->read_file('error.log'), qr/otp store: redis op \d+ start/,
     'the verify waits on Redis');

# a graceful stop: the worker must be gone within about 1s

my $start = time;
$t->stop;
my $took = time - $start;

ok($took < 8, 'the worker exits within worker_shutdown_timeout, not the '
   . "store's 30s timeout") or diag(sprintf 'took %.1f s', $took);

my $status = <$res_r> // 'none';
chomp $status;
waitpid($kid, 0);

like($status, qr/^(0|503)$/,
     'the waiting request ended with the worker (503 or closed)')
    or diag("status $status");

kill 'CONT', $t->{redis_pid};

is(scalar(grep { /otp redis store: connect to|reconnect/ }
                split /\n/, $t->read_file('error.log')),
   0, 'no reconnect was attempted by the exiting worker');

$t->done;

###############################################################################
