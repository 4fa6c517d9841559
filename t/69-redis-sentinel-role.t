#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# Behind Sentinel a replica is never written: a sentinel (here a stand-in
# speaking just enough RESP: AUTH, SENTINEL get-master-addr-by-name,
# SUBSCRIBE) that names a replica as the master gets the store's ROLE
# check: the worker leaves the replica, asks again, and answers 503
# store_unavailable meanwhile; nothing is written to the replica.  Once the
# sentinel names the real master, sends work.  A sentinel that names a
# host name, or does not know the master, is not followed either.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use IO::Socket::INET;
use POSIX qw(_exit WNOHANG);
use Time::HiRes qw(sleep time);
use OtpTest;

###############################################################################

my $t = OtpTest->new->need_redis;

my $bin = `sh -c 'command -v redis-server'`;
chomp $bin;

$t->plan(9);

my $dir = $t->dir;
my $master = $t->port('REDIS_PORT');
my $replica = $t->port('REPLICA');
my $fake = $t->port('SENTINEL');

my %pids;

END { kill 'KILL', keys %pids if %pids; }

# what the stand-in sentinel answers: "IP PORT", or nothing (nil)
sub tell_master {
    my ($what) = @_;
    $t->write_file('fake-master.tmp', $what);
    rename "$dir/fake-master.tmp", "$dir/fake-master";
}

# one RESP command (an array of bulk strings) from $in, or () if partial
sub command {
    my ($in) = @_;
    return () unless $$in =~ /^\*(\d+)\r\n/;
    my ($n, $pos) = ($1, length "*$1\r\n");
    my @args;
    for (1 .. $n) {
        return () unless substr($$in, $pos) =~ /^\$(\d+)\r\n/;
        my $len = $1;
        $pos += length("\$$len\r\n");
        return () if length($$in) < $pos + $len + 2;
        push @args, substr($$in, $pos, $len);
        $pos += $len + 2;
    }
    substr($$in, 0, $pos) = '';
    return @args;
}

sub bulk { '$' . length($_[0]) . "\r\n$_[0]\r\n" }

sub fake_sentinel {
    my $l = IO::Socket::INET->new(LocalAddr => "127.0.0.1:$fake",
                                  Listen => 16, ReuseAddr => 1)
        or die "fake sentinel: $!";

    my $pid = fork() // die "fork: $!";

    if ($pid) {
        close $l;
        $pids{$pid} = 'fake sentinel';
        return;
    }

    OtpTest::_die_with_parent();
    $SIG{CHLD} = 'IGNORE';

    while (my $c = $l->accept) {
        next if fork();
        close $l;

        my $in = '';
        while (sysread($c, $in, 4096, length $in)) {
            while (my @cmd = command(\$in)) {
                my $name = uc $cmd[0];
                if ($name eq 'AUTH') {
                    print $c "+OK\r\n";
                } elsif ($name eq 'SENTINEL') {
                    my $m = $t->read_file('fake-master');
                    my ($ip, $port) = split ' ', $m;
                    print $c defined $port
                        ? "*2\r\n" . bulk($ip) . bulk($port) : "*-1\r\n";
                } elsif ($name eq 'SUBSCRIBE') {
                    print $c "*3\r\n" . bulk('subscribe') . bulk($cmd[1])
                             . ":1\r\n";
                } else {
                    print $c "-ERR unknown command\r\n";
                }
            }
        }
        _exit(0);
    }

    _exit(0);
}

###############################################################################

$t->start_redis;

my $rpid = fork() // die "fork: $!";

if ($rpid == 0) {
    OtpTest::_die_with_parent();
    open STDOUT, '>>', "$dir/replica.log";
    open STDERR, '>&', \*STDOUT;
    exec($bin, '--port', $replica, '--bind', '127.0.0.1', '--save', '',
         '--appendonly', 'no', '--dir', $dir, '--dbfilename', 'replica.rdb',
         '--replicaof', '127.0.0.1', $master)
        or _exit(127);
}

$pids{$rpid} = 'replica';

sub replica_cmd {
    my (@args) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$replica",
                                  Timeout => 1) or return '';
    print $s '*' . scalar(@args) . "\r\n" . join('', map { bulk($_) } @args);
    my $in = '';
    my $deadline = time + 2;
    while (time < $deadline) {
        sysread($s, $in, 65536, length $in) or last;
        my $r = OtpTest::_resp($in);
        return $r if defined $r;
    }
    return '';
}

for (1 .. 200) {
    last if replica_cmd('INFO', 'replication') =~ /master_link_status:up/;
    sleep 0.05;
}

tell_master("127.0.0.1 $replica");
fake_sentinel();

$t->write_config(<<"EOF2", store => 'redis');

%%GLOBALS%%
worker_processes 1;

events {
}

http {
    %%HTTP_GLOBALS%%

    otp_store redis-sentinel://127.0.0.1:$fake/mymaster timeout=1s;
    otp_secret_file %%SECRET%%;
    otp_provider dev log;

    server {
        listen 127.0.0.1:%%PORT%%;

        otp_client_limit off;

        location = /otp/send {
            otp_send;
        }
    }
}

EOF2

$t->run(store_wait => 0);

###############################################################################

my $n = 0;

sub send_one {
    my $r = $t->post_form('/otp/send',
                          { phone => sprintf('+1555030%04d', ++$n) });
    return $r->{status} . ' ' . ($r->{json} ? $r->{json}{error} // '' : '');
}

# the sentinel names the replica

is(send_one(), '503 store_unavailable', 'a replica named: send 503');
sleep 1;
is(send_one(), '503 store_unavailable', 'still 503 a second later');

like($t->read_file('error.log'), qr/at 127\.0\.0\.1:$replica is not a master/,
     'the replica found by ROLE is logged');
is(replica_cmd('INFO', 'commandstats') =~ /cmdstat_(evalsha|eval|script)/
   ? $1 : 'none', 'none', 'no script reached the replica');

# a host name is not followed (it would need a blocking resolver)

tell_master("redis.example 6379");

# asked again once the store finds the replica once more (its backoff)
my $deadline = time + 10;

while (time < $deadline) {
    last if $t->read_file('error.log')
            =~ /gave the master "mymaster" an address that is not a numeric/;
    sleep 0.1;
}

is(send_one(), '503 store_unavailable', 'a host name named: send 503');

# the real master: sends work

tell_master("127.0.0.1 $master");

my $ok = 0;
$deadline = time + 10;

while (time < $deadline) {
    last if ($ok = send_one() eq '202 ');
    sleep 0.2;
}

ok($ok, 'the master named: send 202');
like($t->read_file('error.log'),
     qr/master "mymaster" is at redis:\/\/127\.0\.0\.1:$master/,
     'the master is logged');
like($t->read_file('error.log'),
     qr/gave the master "mymaster" an address that is not a numeric IP/,
     'the host name was refused');
unlike($t->read_file('error.log'), qr/redis\.example/,
       'the sentinel\'s text is not repeated');

$t->stop;
kill 'TERM', keys %pids;
waitpid($_, 0) for keys %pids;
%pids = ();

$t->done;
