#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# The Redis store behind Redis Sentinel (otp_store redis-sentinel://...),
# as the README's ACL user (username=; ACLs set on every Redis) and with
# the sentinels' password (sentinel_password_file=; they requirepass):
# a master, two replicas and three sentinels on loopback (two replicas:
# after a failover the other one follows the new master at once, and
# wait=1 is met again; with one, the new master would have no replica
# until the sentinels convert the old master, up to 10 s later, and every
# write would be 503 meanwhile, as it should), and nginx given a
# fourth sentinel address where nothing listens, first in the list (a
# sentinel down at start is skipped).  A code is sent with wait=1:... (its
# write acknowledged by the replica), then SENTINEL FAILOVER promotes the
# replica: sends made all through the switch answer 202 or 503
# store_unavailable only, the 503s in one short burst (counted and
# printed), the sends after it 202; the code sent before the failover
# still verifies on the new master; the subscriber follows the master (its
# SUBSCRIBE is on the new master, none on the old) and a status callback
# after the failover wakes a long-poll.  With every sentinel down and no
# master known, the store fails closed (503).

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Digest::SHA qw(hmac_sha1_base64);
use POSIX qw(_exit WNOHANG);
use Time::HiRes qw(sleep time);
use OtpTest;
use MockProvider qw(form_hash);

###############################################################################

my $t = OtpTest->new->need_redis;

my $bin = `sh -c 'command -v redis-server'`;
chomp $bin;

plan(skip_all => 'redis-server not found') unless $bin;

$t->plan(24);

my $mock = MockProvider->new(dir => $t->dir);

my $AC = 'ACa1b2c3d4e5f60718293a4b5c6d7e8f90';
my $TOKEN = 'tok1c0ffee5ecret0ddba11deadbeefab';
my $PUBLIC = 'https://otp.example.com/api';

my $dir = $t->dir;
my $master = $t->port('REDIS_PORT');
my @replicas = ($t->port('REPLICA1'), $t->port('REPLICA2'));
my @sentinels = map { $t->port("SENTINEL$_") } 1 .. 3;
my $dead = $t->port('DEAD');

my $SENTINEL_PASS = 'sentinel-secret';
my $PASS = 'pw-' . join('', map { ('a'..'z')[rand 26] } 1 .. 24);

# the module's ACL user (the README's line), on every Redis: ACLs are not
# replicated, and a replica may be the master tomorrow
my @acl = (qw/ACL SETUSER otp on/, ">$PASS", qw/resetkeys ~otp:*
    resetchannels &otp:status -@all +select +info +script|load +evalsha
    +eval +wait +role +subscribe +time +exists +hget +hmget +hset +hdel
    +hincrby +incr +set +del +pexpire +pexpireat +publish/);

my %pids;

END { kill 'KILL', keys %pids if %pids; }

sub spawn {
    my ($name, @args) = @_;

    my $pid = fork() // die "fork: $!";

    if ($pid == 0) {
        OtpTest::_die_with_parent();
        open STDOUT, '>>', "$dir/$name.log";
        open STDERR, '>&', \*STDOUT;
        exec($bin, @args) or _exit(127);
    }

    $pids{$pid} = $name;

    return $pid;
}

sub stop_pid {
    my ($pid) = @_;

    kill 'TERM', $pid;

    for (1 .. 100) {
        last if waitpid($pid, WNOHANG) == $pid;
        sleep 0.05;
    }

    if (kill 0, $pid) {
        kill 'KILL', $pid;
        waitpid($pid, 0);
    }

    delete $pids{$pid};
}

# one command to any of the Redis processes: the reply as text
# (the sentinels want their password first: AUTH, then the command)
sub cmd {
    my ($port, @args) = @_;

    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                  Timeout => 1)
        or return '';

    my @cmds = (\@args);
    unshift @cmds, [ 'AUTH', $SENTINEL_PASS ] if grep { $_ == $port }
                                                      @sentinels;

    print $s join '', map { '*' . scalar(@$_) . "\r\n"
                            . join('', map { '$' . length($_) . "\r\n$_\r\n" }
                                       @$_) } @cmds;

    my $sel = IO::Select->new($s);
    my $in = '';
    my $deadline = time + 2;

    while (time < $deadline && $sel->can_read($deadline - time)) {
        sysread($s, $in, 65536, length $in) or last;
        my ($reply, $rest) = OtpTest::_resp_one($in);
        ($reply) = OtpTest::_resp_one($rest) if defined $reply && @cmds > 1;
        return $reply if defined $reply;
    }

    return '';
}

sub wait_for {
    my ($what, $limit) = @_;
    my $deadline = time + ($limit // 15);

    while (time < $deadline) {
        return 1 if $what->();
        sleep 0.05;
    }

    return 0;
}

sub master_port {
    my ($r) = cmd($sentinels[0], 'SENTINEL', 'get-master-addr-by-name',
                  'mymaster');
    my (undef, $port) = split /\n/, $r;
    return $port // 0;
}

###############################################################################

# the master (the harness's Redis), two replicas, three sentinels

$t->start_redis;

# a replica that follows a new master may need a full sync: at once, not
# after Redis 7's default delay of 5 s for more replicas to join
cmd($master, 'CONFIG', 'SET', 'repl-diskless-sync-delay', '0');

for my $i (0, 1) {
    spawn("replica$i", '--port', $replicas[$i], '--bind', '127.0.0.1',
          '--save', '', '--appendonly', 'no', '--dir', $dir,
          '--dbfilename', "replica$i.rdb", '--repl-diskless-sync-delay',
          '0', '--replicaof', '127.0.0.1', $master);
}

my @sentinel_pids;

for my $i (0 .. 2) {
    $t->write_file("sentinel$i.conf", <<"EOF2");
port $sentinels[$i]
bind 127.0.0.1
daemonize no
dir $dir
requirepass $SENTINEL_PASS
sentinel sentinel-pass $SENTINEL_PASS
sentinel monitor mymaster 127.0.0.1 $master 2
sentinel down-after-milliseconds mymaster 1000
sentinel failover-timeout mymaster 4000
sentinel parallel-syncs mymaster 1
EOF2
    push @sentinel_pids,
        spawn("sentinel$i", "$dir/sentinel$i.conf", '--sentinel');
}

wait_for(sub { !grep { cmd($_, 'INFO', 'replication')
                       !~ /master_link_status:up/ } @replicas })
    or die "the replicas did not sync\n";

for my $port ($master, @replicas) {
    cmd($port, @acl) eq 'OK' or die "ACL SETUSER on $port failed\n";
}

wait_for(sub { !grep { my $r = cmd($_, 'SENTINEL', 'replicas', 'mymaster');
                       $r !~ /\Q$replicas[0]\E/ || $r !~ /\Q$replicas[1]\E/ }
                     @sentinels })
    or die "the sentinels did not find the replicas\n";

###############################################################################

my $conf = <<'EOF2';

%%GLOBALS%%
worker_processes 1;

events {
}

http {
    %%HTTP_GLOBALS%%

    otp_store redis-sentinel://127.0.0.1:@DEAD@,127.0.0.1:@S1@,127.0.0.1:@S2@,127.0.0.1:@S3@/mymaster
              username=otp password_file=%%PREFIX%%/redis.pass
              sentinel_password_file=%%PREFIX%%/sentinel.pass
              wait=1:500ms timeout=2s connect_timeout=1s;
    otp_secret_file %%SECRET%%;
    otp_public_url @PUBLIC@;

    otp_provider tw twilio account_sid=@AC@ auth_token=@TOKEN@
                 from=+15005550006 base_url=@MOCK@;

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

        location /otp/status/ {
            otp_status;
        }

        location = /hooks/twilio {
            otp_webhook tw;
        }
    }
}

EOF2

my %subst = (MOCK => $mock->url, AC => $AC, TOKEN => $TOKEN,
             PUBLIC => $PUBLIC, DEAD => $dead, S1 => $sentinels[0],
             S2 => $sentinels[1], S3 => $sentinels[2]);
$conf =~ s/@(\w+)@/$subst{$1}/g;

# nginx -t: the form and its options

$t->write_file('sentinel.pass', "$SENTINEL_PASS\n", 0600);
$t->write_file('redis.pass', "$PASS\n", 0600);

sub store_line {
    my ($line) = @_;
    (my $c = $conf) =~ s/otp_store redis-sentinel:[^;]*;/otp_store $line;/s;
    return $t->check_config($c);
}

like(store_line("redis-sentinel://127.0.0.1:$sentinels[0]/my!master"),
     qr/invalid master name/, 'nginx -t: a master name with a "!"');
like(store_line('redis-sentinel:///mymaster'),
     qr/invalid store/, 'nginx -t: no sentinel');
like(store_line("redis-sentinel://127.0.0.1:$sentinels[0],/mymaster"),
     qr/an empty sentinel|invalid sentinel/, 'nginx -t: an empty sentinel');
like(store_line("redis-sentinel://u:p\@127.0.0.1/mymaster"),
     qr/credentials in .* are not supported/,
     'nginx -t: credentials in the URL');
like(store_line("redis://127.0.0.1:$master sentinel_username=x"),
     qr/invalid parameter "sentinel_username=x"/,
     'nginx -t: a sentinel option without the Sentinel form');
like(store_line("redis://127.0.0.1:$master username=otp"),
     qr/"username=" needs "password_file="/,
     'nginx -t: username= without a password');
like(store_line("redis-sentinel://127.0.0.1:$sentinels[0]/mymaster"
                . ' sentinel_username=s'),
     qr/"sentinel_username=" needs "sentinel_password_file="/,
     'nginx -t: sentinel_username= without a password');
unlike(store_line("redis-sentinel://127.0.0.1:$sentinels[0],127.0.0.1/m-1/3"
                  . ' sentinel_username=s sentinel_password_file='
                  . "$dir/sentinel.pass"),
       qr/emerg/, 'nginx -t: the form with its sentinel options, port '
                  . 'defaulted, a database');

$t->write_config($conf, store => 'redis');
$t->run(store_wait => 0);

###############################################################################

my $SMS = qr/verification code is (\d{6})/;
my $n = 0;

sub send_one {
    my ($phone) = @_;
    $phone //= sprintf('+1555020%04d', ++$n);
    my $r = $t->post_form('/otp/send', { phone => $phone });
    my ($req) = grep { ($_->{body} // '') =~ /\Q@{[ substr($phone, 1) ]}\E/ }
                $mock->requests(qr{/Messages\.json$});
    my %f = form_hash($req ? $req->{body} : '');
    my ($code) = ($f{Body} // '') =~ $SMS;
    $t->uses_code($code) if defined $code;
    return ($r, $r->{json} ? $r->{json}{message_id} : undef, $code);
}

sub esc {
    my ($s) = @_;
    $s =~ s/([^A-Za-z0-9\-._~])/sprintf('%%%02X', ord $1)/ge;
    return $s;
}

sub twilio {
    my (%p) = @_;
    my $url = "$PUBLIC/hooks/twilio";
    my $sig = hmac_sha1_base64($url . join('', map { $_ . $p{$_} }
                                                sort keys %p), $TOKEN);
    $sig .= '=' while length($sig) % 4;
    return $t->post('/hooks/twilio', 'application/x-www-form-urlencoded',
                    join('&', map { esc($_) . '=' . esc($p{$_}) }
                              sort keys %p),
                    headers => { 'X-Twilio-Signature' => $sig });
}

sub long_poll {
    my ($id) = @_;
    pipe(my $r, my $w) or die "pipe: $!";
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        close $r;
        my $start = time;
        my $res = $t->get("/otp/status/$id?wait=10", timeout => 20);
        syswrite $w, sprintf("%s %s %.2f\n", $res->{status},
                             $res->{json} ? $res->{json}{status} // '' : '',
                             time - $start);
        _exit(0);
    }
    close $w;
    return { pid => $pid, fh => $r };
}

sub answer {
    my ($poll) = @_;
    my $fh = $poll->{fh};
    my $line = <$fh> // '0 none 0';
    waitpid($poll->{pid}, 0);
    chomp $line;
    return split / /, $line;
}

sub subscribers {
    my ($port) = @_;
    # the sentinels' own (named sentinel-...) are not ours
    return scalar grep { /cmd=subscribe\b/ && !/name=sentinel/ }
                  split /\n/, cmd($port, 'CLIENT', 'LIST');
}

###############################################################################

# the first sentinel is down: skipped, the master found through the next

my ($r, $sid, $code);

ok(wait_for(sub { ($r) = send_one(); $r->{status} == 202 }, 10),
   'a sentinel down at start is skipped: a send 202');
like($t->read_file('error.log'),
     qr/otp redis sentinel: connect to "127\.0\.0\.1:$dead" failed/,
     'the dead sentinel was tried');

# a code, acknowledged by the replica (wait=1)

my $phone = '+15550100001';
($r, $sid, $code) = send_one($phone);
is($r->{status}, 202, 'before the failover: a code sent');

# a long-poll before the failover connects the subscriber

my $poll = long_poll($sid);
ok(wait_for(sub { subscribers($master) == 1 }, 5),
   'the subscriber is on the master');
twilio(MessageSid => $sid, MessageStatus => 'sent', AccountSid => $AC);
my ($http, $status) = answer($poll);
is("$http $status", '200 sent', 'before the failover: a callback wakes it');

# the failover, with sends all through it

is(cmd($sentinels[1], 'SENTINEL', 'FAILOVER', 'mymaster'), 'OK',
   'SENTINEL FAILOVER');

my @seen;
my $deadline = time + 20;
my $switched = 0;
my $new = 0;
my $after = 0;

while (time < $deadline) {
    ($r) = send_one();
    push @seen, $r->{status};

    if (!$switched) {
        $new = master_port();
        $switched = 1 if grep { $_ == $new } @replicas;

    } else {
        # five sends in a row accepted after the sentinels told the switch
        $after = $r->{status} == 202 ? $after + 1 : 0;
        last if $after == 5;
    }

    sleep 0.05;
}

my $n503 = grep { $_ == 503 } @seen;
my $other = grep { $_ != 202 && $_ != 503 } @seen;
my $burst = join('', map { $_ == 202 ? '.' : 'x' } @seen);

diag(sprintf('failover: %d sends, %d answered 503 (%s)', scalar @seen,
             $n503, $burst));

ok($switched, 'the sentinels promoted the replica');
ok($other == 0 && $burst =~ /^\.*x*\.+$/,
   'during the switch: 202 or 503 only, the 503s in one burst, then 202')
    or diag("@seen");

# the code sent before the failover verifies on the new master

$r = $t->post_form('/otp/verify', { phone => $phone, code => $code // '' });
is($r->{status} . ' ' . ($r->{json} && $r->{json}{verified} ? 'verified'
                                                              : 'no'),
   '200 verified', 'after the failover: the acknowledged code verifies')
    or diag($r->{raw});

# the subscriber followed the master

ok(wait_for(sub { subscribers($new) == 1 && subscribers($master) == 0 },
            5),
   'the subscriber moved to the new master');

($r, $sid) = send_one();
$poll = long_poll($sid);
sleep 0.3;
twilio(MessageSid => $sid, MessageStatus => 'delivered', AccountSid => $AC);
($http, $status, my $took) = answer($poll);
is("$http $status", '200 delivered',
   'after the failover: a callback wakes a long-poll');
ok($took < 8, 'woken, not timed out') or diag("took $took s");

like($t->read_file('error.log'),
     qr/otp redis sentinel: master "mymaster" is at redis:\/\/127\.0\.0\.1:$new/,
     'the switch is logged');

# the ACL user's commands were enough, on both masters (ROLE and WAIT too)
is(join('', map { cmd($_, 'ACL', 'LOG') } $master, $new), '',
   'no command refused to the ACL user, before or after the failover');

###############################################################################

# every sentinel down, no master known: fail closed

$t->stop;
stop_pid($_) for @sentinel_pids;

$t->run(store_wait => 0);

($r) = send_one();
is($r->{status} . ' ' . ($r->{json} ? $r->{json}{error} // '' : ''),
   '503 store_unavailable', 'all sentinels down: send fails closed');

ok(wait_for(sub { $t->read_file('error.log')
                  =~ /no sentinel could tell the master "mymaster"/ }, 5),
   'all sentinels down: logged');

$t->stop;
stop_pid($_) for keys %pids;

$t->done;
