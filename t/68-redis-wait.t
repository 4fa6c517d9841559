#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# otp_store ... wait=N:TIME: every operation that writes is followed by
# WAIT N TIME on the same connection, and answered only when N replicas
# have its write.  Fewer: a code is not sent (503 store_unavailable, the
# provider never called), a verify of the right code is 503, never
# verified, and a wrong guess is 503 too (right and wrong alike: the
# answer tells a guesser nothing while its counter may be lost); a
# refusal (a resend too early: 429) is answered as it is.  With the
# replica up, everything works.  nginx -t refuses a wait time not shorter
# than timeout=, N of 0 and a time of 0.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use POSIX qw(_exit WNOHANG);
use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(sleep time);
use OtpTest;

###############################################################################

my $t = OtpTest->new->need_redis;

my $bin = `sh -c 'command -v redis-server'`;
chomp $bin;

$t->plan(18);

my $conf = <<'EOF2';

%%GLOBALS%%
worker_processes 1;

events {
}

http {
    %%HTTP_GLOBALS%%

    otp_store redis://127.0.0.1:%%REDIS_PORT%% @WAIT@ timeout=2s;
    otp_secret_file %%SECRET%%;
    otp_provider dev log;

    server {
        listen 127.0.0.1:%%PORT%%;

        otp_client_limit off;
        otp_resend_after 60s;

        location = /otp/send {
            otp_send;
        }

        location = /otp/verify {
            otp_verify;
        }
    }
}

EOF2

sub config {
    my ($wait) = @_;
    (my $c = $conf) =~ s/\@WAIT\@/$wait/;
    return $c;
}

my $dir = $t->dir;
my $replica_port = $t->port('REPLICA');
my $replica;

END { kill 'KILL', $replica if $replica; }

sub start_replica {
    $replica = fork() // die "fork: $!";

    if ($replica == 0) {
        OtpTest::_die_with_parent();
        open STDOUT, '>>', "$dir/replica.log";
        open STDERR, '>&', \*STDOUT;
        exec($bin, '--port', $replica_port, '--bind', '127.0.0.1',
             '--save', '', '--appendonly', 'no', '--dir', $dir,
             '--dbfilename', 'replica.rdb', '--replicaof', '127.0.0.1',
             $t->port('REDIS_PORT'))
            or _exit(127);
    }

    my $deadline = time + 10;

    # synced, and acknowledging a write within the module's wait: a write
    # and WAIT on one connection, as the module sends them, twice in a
    # row (the first write may have reached the replica in its snapshot,
    # and WAIT then counts it at once)
    my $acked = 0;

    while (time < $deadline) {
        $acked = write_and_wait() eq "+OK\r\n:1\r\n" ? $acked + 1 : 0;
        return 1 if $acked == 2;
        sleep 0.05;
    }

    die "the replica did not sync\n";
}

sub write_and_wait {
    my $s = IO::Socket::INET->new(
        PeerAddr => '127.0.0.1:' . $t->port('REDIS_PORT'), Timeout => 1)
        or return '';
    print $s "*3\r\n\$3\r\nSET\r\n\$12\r\notp:test:ack\r\n\$1\r\n1\r\n"
             . "*3\r\n\$4\r\nWAIT\r\n\$1\r\n1\r\n\$3\r\n200\r\n";
    my $in = '';
    my $sel = IO::Select->new($s);
    while ($in !~ /\r\n.*\r\n/s && $sel->can_read(1)) {
        sysread($s, $in, 1024, length $in) or last;
    }
    return $in;
}

sub stop_replica {
    kill 'TERM', $replica;
    waitpid($replica, 0);
    $replica = undef;

    my $deadline = time + 10;

    while (time < $deadline) {
        return 1 if ($t->redis_command('INFO', 'replication') // '')
                    =~ /connected_slaves:0/;
        sleep 0.05;
    }
}

sub error_of {
    my ($r) = @_;
    return $r->{status} . ' ' . ($r->{json} ? $r->{json}{error} // '' : '');
}

###############################################################################

# nginx -t

like($t->check_config(config('wait=1:2s')),
     qr/the time of "wait=" must be shorter than "timeout="/,
     'nginx -t: a wait not shorter than timeout= is refused');
like($t->check_config(config('wait=0:100ms')),
     qr/invalid parameter "wait=0:100ms"/, 'nginx -t: wait=0 is refused');
like($t->check_config(config('wait=1:0')),
     qr/invalid parameter "wait=1:0"/, 'nginx -t: a wait time of 0 is refused');

$t->write_config(config('wait=1:200ms'), store => 'redis');
$t->run;

# a replica's full sync at once, not after Redis 7's default delay of 5 s
$t->redis_command('CONFIG', 'SET', 'repl-diskless-sync-delay', '0');

# no replica: nothing is acknowledged

my ($r, $code) = $t->send_code('/otp/send', { phone => '+15550100001' });
is(error_of($r), '503 store_unavailable',
   'no replica: a send is 503 store_unavailable');
unlike($t->read_file('error.log'), qr/otp log provider:/,
       'no replica: the code is not sent');
like($t->read_file('error.log'),
     qr/otp redis store: issue acknowledged by 0 of 1 replicas in 200 ms/,
     'no replica: logged');

# a replica: everything works

start_replica();

sub waits {
    return ($t->redis_command('INFO', 'commandstats') // '')
           =~ /cmdstat_wait:calls=(\d+)/ ? $1 : 0;
}

my $before = waits();
($r, $code) = $t->send_code('/otp/send', { phone => '+15550100002' });
is($r->{status}, 202, 'a replica: send 202');
is(waits() - $before, 2, 'WAIT follows the issue and the message record');

my ($r2, $code2) = $t->send_code('/otp/send', { phone => '+15550100003' });
my ($r3) = $t->send_code('/otp/send', { phone => '+15550100005' });
is("$r2->{status} $r3->{status}", '202 202', 'a replica: other sends 202');

$r = $t->post_form('/otp/verify', { phone => '+15550100002',
                                    code => $code });
is($r->{status}, 200, 'a replica: the code verifies');

# the replica gone: no guess is answered, right or wrong; refusals are

stop_replica();

my $wrong = $code2 eq '000000' ? '000001' : '000000';
$r = $t->post_form('/otp/verify', { phone => '+15550100003',
                                    code => $wrong });
is(error_of($r), '503 store_unavailable',
   'no replica: a wrong code is 503, not invalid_code');

$r = $t->post_form('/otp/verify', { phone => '+15550100003',
                                    code => $code2 });
is(error_of($r), '503 store_unavailable',
   'no replica: the right code is 503, never verified');

$r = $t->post_form('/otp/send', { phone => '+15550100005' });
is($r->{status}, 429, 'no replica: a resend too early is still 429');

# back: a new code works again

start_replica();

($r, $code) = $t->send_code('/otp/send', { phone => '+15550100004' });
$r = $t->post_form('/otp/verify', { phone => '+15550100004',
                                    code => $code // '' });
is($r->{status}, 200, 'the replica back: a new code verifies');

my $log = $t->read_file('error.log');
my $n = () = $log =~ /acknowledged by 0 of 1 replicas/g;
is($n, 3, 'three operations answered unavailable, each logged');

stop_replica();

# sends arriving one after another while no replica answers: one WAIT at
# a time, the writes made meanwhile acknowledged by the next one; WAITs
# sent behind WAITs held the connection 200 ms each, one after the other,
# until operations queued behind them timed out

$before = waits();

my @burst = $t->concurrently(24, sub {
    sleep 0.02 * $_[0];
    return $t->post_form('/otp/send',
                         { phone => sprintf('+155501002%02d', $_[0]) });
});

is(join(',', sort { $a <=> $b } map { $_->{status} } @burst),
   join(',', (503) x 24), 'a burst without a replica: every send 503');

my $sent = waits() - $before;
ok($sent <= 8, "one WAIT at a time: $sent WAITs for 24 sends over 0.5 s");
unlike($t->read_file('error.log'), qr/otp redis store: \w+ timed out/,
       'and no operation timed out behind them');

$t->done;
