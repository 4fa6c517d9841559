package OtpCluster;

# (C) The ngx_http_otp_module authors

# Three Redis Cluster masters on loopback for the tests that need one
# (t/67-redis-cluster.t, t/74-analytics-cluster.t): redis-server
# --cluster-enabled yes on the test's own ports, joined by redis-cli
# --cluster create, stopped by PID when the test ends.
#
#   plan(skip_all => ...) unless OtpCluster->usable;
#   my $c = OtpCluster->new($t);
#   $c->create or diag($c->{created});     # 3 masters, cluster_state:ok
#   rc($c->port(0), 'CLUSTER', 'MYID');     # a command to one node
#   $c->keys_on(1, 'otp:m:*'); $c->stop_node(2, 'KILL'); $c->stop;

###############################################################################

use warnings;
use strict;

use Exporter 'import';
use IO::Select;
use IO::Socket::INET;
use POSIX qw(_exit);
use Time::HiRes qw(sleep time);
use OtpTest;

our @EXPORT = qw(rc);

my $redis = $ENV{TEST_REDIS_BINARY} || 'redis-server';
(my $cli = $redis) =~ s/redis-server$/redis-cli/;

my @all;

###############################################################################

# redis-server 5 or later (cluster mode as the module speaks it) and
# redis-cli (--cluster create)
sub usable {
    return `$redis --version 2>/dev/null` =~ /v=(\d+)/ && $1 >= 5
           && `$cli --version 2>/dev/null` =~ /redis-cli/;
}

sub new {
    my ($class, $t) = @_;

    my $self = bless {
        dir => $t->dir,
        ports => [ map { $t->port("CLUSTER$_") } 1 .. 3 ],
        bus => [ map { $t->port("CLUSTERBUS$_") } 1 .. 3 ],
        pid => {},
    }, $class;

    push @all, $self;

    return $self;
}

sub port { $_[0]{ports}[$_[1]] }
sub ports { @{ $_[0]{ports} } }

# the running nodes' indices
sub running { sort keys %{ $_[0]{pid} } }

# a command to one node, its reply as OtpTest reads RESP (an array's
# elements joined by newlines, an error as its "-" line)
sub rc {
    my ($port, @args) = @_;

    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                  Timeout => 1) or return undef;
    binmode $s;
    print $s '*' . scalar(@args) . "\r\n"
        . join('', map { '$' . length($_) . "\r\n$_\r\n" } @args);

    my $sel = IO::Select->new($s);
    my ($in, $deadline) = ('', time + 3);

    while (time < $deadline && $sel->can_read($deadline - time)) {
        my $n = sysread($s, $in, 65536, length $in);
        last unless $n;
        return $in if $in =~ /^-/ && $in =~ /\r\n$/;    # the error's text
        my $reply = OtpTest::_resp($in);
        return $reply if defined $reply;
    }

    return undef;
}

sub start_node {
    my ($self, $i) = @_;

    my $dir = $self->{dir};
    my $pid = fork() // die "fork: $!";

    if ($pid == 0) {
        OtpTest::_die_with_parent();
        open STDOUT, '>>', "$dir/cluster-$i.log";
        open STDERR, '>&', \*STDOUT;
        exec($redis, '--port', $self->{ports}[$i],
             '--cluster-port', $self->{bus}[$i],
             '--bind', '127.0.0.1', '--cluster-enabled', 'yes',
             '--cluster-config-file', "$dir/nodes-$i.conf",
             '--cluster-node-timeout', '3000',
             '--cluster-require-full-coverage', 'no',
             '--save', '', '--appendonly', 'no', '--dir', $dir,
             '--daemonize', 'no')
            or _exit(127);
    }

    $self->{pid}{$i} = $pid;

    my $deadline = time + 10;
    sleep 0.05 until (rc($self->{ports}[$i], 'PING') // '') eq 'PONG'
                     || time > $deadline;
}

sub stop_node {
    my ($self, $i, $sig) = @_;

    my $pid = delete $self->{pid}{$i} or return;
    kill $sig // 'TERM', $pid;
    waitpid($pid, 0);
}

sub stop {
    my ($self) = @_;
    $self->stop_node($_) for $self->running;
}

# the three masters started and joined: their number in cluster_state:ok
# (3 when it worked; redis-cli's words in $self->{created})
sub create {
    my ($self) = @_;

    my @p = $self->ports;

    $self->start_node($_) for 0 .. 2;

    $self->{created} = `$cli --cluster create 127.0.0.1:$p[0] 127.0.0.1:$p[1] \\
        127.0.0.1:$p[2] --cluster-replicas 0 --cluster-yes 2>&1`;

    my $ok = sub {
        scalar grep { (rc($p[$_], 'CLUSTER', 'INFO') // '')
                      =~ /cluster_state:ok/ } 0 .. 2;
    };

    my $deadline = time + 15;
    sleep 0.1 until $ok->() == 3 || time > $deadline;

    return $ok->();
}

sub node_id { rc($_[0]{ports}[$_[1]], 'CLUSTER', 'MYID') }

# every key of a kind on a node
sub keys_on {
    my ($self, $i, $pattern) = @_;
    my $r = rc($self->{ports}[$i], 'KEYS', $pattern) // '';
    return $r =~ /^-/ ? () : split /\n/, $r;
}

END {
    for my $c (@all) {
        kill 'KILL', values %{ $c->{pid} } if %{ $c->{pid} };
    }
}

###############################################################################

1;
