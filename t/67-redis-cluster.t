#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# The Redis store on a Redis Cluster (src/ngx_http_otp_redis_cluster.c):
# three masters on loopback (redis-server --cluster-enabled yes, joined by
# redis-cli --cluster create), nginx given two of them as seeds.  Sends,
# verifies, resends, a status callback and long-polls go through nginx to
# numbers whose keys land on all three masters; the client window is a
# script of its own in its own slot.
#
# Then a slot that holds a live code is resharded by hand, the classic
# sequence (SETSLOT IMPORTING / MIGRATING, MIGRATE, SETSLOT NODE), while
# other requests run: after MIGRATE the code verifies through -ASK, a send
# to a number of that slot waits out the migration (-TRYAGAIN) and then
# goes through, and the next operation on the slot follows -MOVED.  No
# code is lost, no answer is wrong.  Last, the master the subscriber
# listens on is killed: its numbers answer 503 (fail closed), the others
# go on, and a long-poll is woken by a status change on another master
# (the subscriber moved).  The redirects seen are counted from the log.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Socket ();
use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use Digest::SHA qw(hmac_sha1_base64);
use POSIX qw(_exit WNOHANG);
use Time::HiRes qw(sleep time);
use OtpTest;
use OtpCluster;
use MockProvider;

###############################################################################

my $t = OtpTest->new;

plan(skip_all => 'redis-server 5+ or redis-cli not found')
    unless OtpCluster->usable;

$t->plan(53);

my $mock = MockProvider->new(dir => $t->dir);

my $AC = 'ACa1b2c3d4e5f60718293a4b5c6d7e8f90';
my $TOKEN = 'tok1c0ffee5ecret0ddba11deadbeefab';
my $PUBLIC = 'https://otp.example.com';

my $dir = $t->dir;
my $cluster = OtpCluster->new($t);
my @ports = $cluster->ports;

###############################################################################

is($cluster->create, 3, 'a 3-master cluster on loopback')
    or diag($cluster->{created});

my $conf = <<'EOF';

%%GLOBALS%%
worker_processes 1;

events {
}

http {
    %%HTTP_GLOBALS%%

    otp_store redis-cluster://127.0.0.1:@P1@,127.0.0.1:@P2@
              connect_timeout=1s timeout=3s;
    otp_secret_file %%SECRET%%;
    otp_public_url @PUBLIC@;

    otp_provider tw twilio account_sid=@AC@ auth_token=@TOKEN@
                 from=+15005550006 base_url=@MOCK@ budget=10000/h;

    otp_route sms default tw;

    server {
        listen 127.0.0.1:%%PORT%%;

        otp_client_limit 1000/1h;
        otp_resend_after 0s;
        otp_send_limit 1000/1h;

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

EOF

my %subst = (MOCK => $mock->url, AC => $AC, TOKEN => $TOKEN,
             PUBLIC => $PUBLIC, P1 => $ports[0], P2 => $ports[1]);
$conf =~ s/@(\w+)@/$subst{$1}/g;

$t->write_config($conf)->run;

###############################################################################

sub esc {
    my ($s) = @_;
    $s =~ s/([^A-Za-z0-9\-._~])/sprintf('%%%02X', ord $1)/ge;
    return $s;
}

sub unesc {
    my ($s) = @_;
    $s =~ tr/+/ /;
    $s =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ge;
    return $s;
}

# the code of the last SMS the mock got for a number, and its sid
sub last_sms {
    my ($phone) = @_;

    for my $req (reverse $mock->requests(qr{Messages\.json$})) {
        my %f = map { map { unesc($_) } split /=/, $_, 2 }
                split /&/, $req->{body} // '';
        next unless ($f{To} // '') eq $phone;
        my ($code) = ($f{Body} // '') =~ /(\d{6})/;
        my $a = eval { decode_json($req->{answer}{body}) } || {};
        return ($code, $a->{sid});
    }

    return ();
}

sub send_to {
    my ($phone) = @_;
    my $r = $t->post_form('/otp/send', { phone => $phone });
    return ($r, $r->{status} == 202 ? last_sms($phone) : ());
}

sub verify {
    my ($phone, $code) = @_;
    my $r = $t->post_form('/otp/verify', { phone => $phone, code => $code });
    return $r->{status};
}

sub twilio_status {
    my ($sid, $status) = @_;

    my %p = (AccountSid => $AC, MessageSid => $sid,
             MessageStatus => $status);
    my $sig = hmac_sha1_base64("$PUBLIC/hooks/twilio"
                               . join('', map { $_ . $p{$_} } sort keys %p),
                               $TOKEN);
    $sig .= '=' while length($sig) % 4;

    return $t->post('/hooks/twilio', 'application/x-www-form-urlencoded',
                    join('&', map { esc($_) . '=' . esc($p{$_}) }
                              sort keys %p),
                    headers => { 'X-Twilio-Signature' => $sig });
}

# a long-poll in a child; answer() reads "HTTP-status status seconds"
sub long_poll {
    my ($id) = @_;

    pipe(my $r, my $w) or die "pipe: $!";
    my $pid = fork() // die "fork: $!";

    if ($pid == 0) {
        close $r;
        my $start = time;
        my $res = $t->get("/otp/status/$id?wait=15", timeout => 30);
        my $status = $res->{json} ? $res->{json}{status} // '' : '';
        syswrite $w, sprintf("%s %s %.2f\n", $res->{status}, $status,
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

my $reads = 0;

# the long-poll read the record and waits (ngx_http_otp_wait.c's debug)
sub waiting {
    my ($poll) = @_;
    my $sel = IO::Select->new($poll->{fh});
    my $deadline = time + 5;

    while (time < $deadline) {
        return 0 if $sel->can_read(0);
        my $n = () = $t->read_file('error.log')
                     =~ /otp wait: node \S+ read: status/g;
        if ($n > $reads) {
            $reads = $n;
            return 1;
        }
        sleep 0.05;
    }

    return 0;
}

# the node the subscriber listens on
sub subscriber_node {
    my $deadline = time + 10;

    while (time < $deadline) {
        for my $i ($cluster->running) {
            return $i if (rc($ports[$i], 'CLIENT', 'LIST') // '')
                         =~ /cmd=subscribe\b/;
        }
        sleep 0.05;
    }

    return undef;
}

###############################################################################

# numbers on all three masters: each send's new keys tell where its
# number's record and its message record went

my (%code, %sid, %rkey, %rnode, %mnode);
my @phones = map { sprintf('+1555013%04d', $_) } 1 .. 30;
my %seen;
my $sent = 0;

sub new_keys {
    my ($pattern) = @_;
    my %new;
    for my $i (0 .. 2) {
        next unless $cluster->{pid}{$i};
        for my $k ($cluster->keys_on($i, $pattern)) {
            $new{$k} = $i unless $seen{$k}++;
        }
    }
    return %new;
}

for my $phone (@phones) {
    my ($r, $code, $sid) = send_to($phone);
    next unless $r->{status} == 202 && defined $code;
    $sent++;
    ($code{$phone}, $sid{$phone}) = ($code, $sid);
    my %r = new_keys('otp:{*}:r');
    ($rkey{$phone}) = keys %r;
    $rnode{$phone} = $r{$rkey{$phone} // ''};
}

# the master of a message record (written once the provider answered)
sub mnode {
    my ($phone) = @_;
    for my $i ($cluster->running) {
        return $i if $cluster->keys_on($i, "otp:m:*$sid{$phone}*");
    }
    return -1;
}

# MESSAGE_PUT follows the provider's answer, not always before the 202
my $mdeadline = time + 5;
while (1) {
    $mnode{$_} = mnode($_) for grep { ($mnode{$_} // -1) < 0 } @phones;
    last if !grep { $mnode{$_} < 0 } @phones or time > $mdeadline;
    sleep 0.1;
}

is($sent, scalar @phones, 'every send accepted (202) through the cluster');
is(scalar(grep { defined $rkey{$_} } @phones), scalar @phones,
   'each send left one new record');

my %per;
$per{$rnode{$_}}++ for grep { defined $rnode{$_} } @phones;
is((grep { $per{$_} } 0 .. 2), 3,
   'the numbers\' records are on all three masters')
    or diag(explain \%per);

my @ckeys = map { my $i = $_; map { [$i, $_] } $cluster->keys_on($i, 'otp:c:{*}') }
            0 .. 2;
is(scalar @ckeys, 1, 'the client window is a key of its own');
is(@ckeys && rc($ports[$ckeys[0][0]], 'HGET', $ckeys[0][1], 'count'),
   scalar @phones, 'it counted every send (the CLIENT script)');

# verify: a wrong code, then the right one, on every master

my (%done, $wrong, $ok);

for my $i (0 .. 2) {
    my ($phone) = grep { ($rnode{$_} // -1) == $i } @phones;
    my $w = $code{$phone} eq '000000' ? '111111' : '000000';
    $wrong++ if verify($phone, $w) == 401;
    $ok++ if verify($phone, $code{$phone}) == 200;
    $done{$phone} = 1;
}

is($wrong, 3, 'a wrong code is 401 on each master');
is($ok, 3, 'the right code verifies on each master');

# resend: a new code, the old one dead

my ($p) = grep { !$done{$_} } @phones;
my $old = $code{$p};
my ($r, $code, $sid) = send_to($p);
is($r->{status}, 202, 'resend accepted');
($code{$p}, $sid{$p}) = ($code, $sid);

SKIP: {
    skip 'the resend drew the same code', 1 if $code eq $old;
    is(verify($p, $old), 401, 'after a resend the old code is refused');
}

is(verify($p, $code), 200, 'and the new code verifies');

# its new message's record (written once the provider answered)
$mdeadline = time + 5;
sleep 0.05 while ($mnode{$p} = mnode($p)) < 0 && time < $mdeadline;
$done{$p} = 1;

# the provider's budget: a counter an hour (two when the test runs
# across the top of an hour), all in the budget's own slot

my @budget = map { my $i = $_; map { [$i, $_] } $cluster->keys_on($i, 'otp:b:*') }
             0 .. 2;
my $counted = 0;
$counted += rc($ports[$_->[0]], 'GET', $_->[1]) // 0 for @budget;
is($counted, scalar($mock->requests(qr{Messages\.json$})),
   'the provider\'s hourly budget counted every send (budget.lua)');
ok(@budget && !(grep { $_->[0] != $budget[0][0] } @budget),
   'on one master');

# a status callback, and the status read back

is(scalar(grep { $mnode{$_} >= 0 } @phones), scalar @phones,
   'a message record per send');

my $q = $phones[-1];
is(twilio_status($sid{$q}, 'delivered')->{status}, 200,
   'a status callback');
is($t->get("/otp/status/$sid{$q}")->{json}{status}, 'delivered',
   'the status reads back');

# long-poll woken across nodes

my $first = long_poll($sid{$phones[-2]});
ok(waiting($first), 'a long-poll waits');
my $sub = subscriber_node();
twilio_status($sid{$phones[-2]}, 'delivered');
my ($hs, $status) = answer($first);
is("$hs $status", '200 delivered', 'a status change wakes it');

my ($other) = grep { defined $sub && defined $mnode{$_}
                     && $mnode{$_} != $sub } @phones[0 .. 27];

my $poll = long_poll($sid{$other});
ok(waiting($poll), 'a long-poll on a record of another master waits');
my $t0 = time;
twilio_status($sid{$other}, 'delivered');
($hs, $status) = answer($poll);
is("$hs $status", '200 delivered',
   'a change on one master wakes a long-poll heard on another')
    or diag("subscriber on $sub, record on $mnode{$other}");
ok(time - $t0 < 5, 'at once, not at the end of its wait');

###############################################################################

# reshard a slot holding a live code, while requests run

my @live = grep { !$done{$_} } @phones[0 .. 27];
my ($mover) = grep { $rnode{$_} == 0 } @live;
my ($late) = grep { $rnode{$_} == 0 && $_ ne $mover } @live;
my $slot = rc($ports[0], 'CLUSTER', 'KEYSLOT', $rkey{$mover});
my ($src, $dst) = ($cluster->node_id(0), $cluster->node_id(1));

# background load on the other numbers: status reads and sends
my $stop = "$dir/load.stop";
my $load = fork() // die "fork: $!";

if ($load == 0) {
    my %n;
    my @others = grep { $rnode{$_} != 0 } @live;
    while (!-e $stop) {
        for my $ph (@others) {
            my $r1 = $t->get("/otp/status/$sid{$ph}");
            $n{$r1->{status}}++;
        }
    }
    open my $f, '>', "$dir/load.out";
    print $f join(' ', map { "$_=$n{$_}" } sort keys %n), "\n";
    close $f;
    _exit(0);
}

is(rc($ports[1], 'CLUSTER', 'SETSLOT', $slot, 'IMPORTING', $src), 'OK',
   "slot $slot importing on the second master");
is(rc($ports[0], 'CLUSTER', 'SETSLOT', $slot, 'MIGRATING', $dst), 'OK',
   'and migrating on the first');

my @keys = split /\n/, rc($ports[0], 'CLUSTER', 'GETKEYSINSLOT', $slot, 100);
is(rc($ports[0], 'MIGRATE', '127.0.0.1', $ports[1], '', 0, 5000, 'KEYS',
      @keys), 'OK', 'its keys migrated (' . scalar(@keys) . ')');

# the live code now lives on the importing node: -ASK
is(verify($mover, $code{$mover}), 200,
   'the live code verifies while its slot migrates (ASK)');

# a send on that slot waits out the migration (-TRYAGAIN), then goes
my $sender = fork() // die "fork: $!";
if ($sender == 0) {
    my ($r2, $c2) = send_to($mover);
    open my $f, '>', "$dir/sender.out";
    print $f "$r2->{status} " . ($c2 // '') . "\n";
    close $f;
    _exit(0);
}

sleep 0.5;

for my $i (1, 0, 2) {
    rc($ports[$i], 'CLUSTER', 'SETSLOT', $slot, 'NODE', $dst);
}

waitpid($sender, 0);
my ($sstatus, $scode) = split / /, $t->read_file('sender.out') =~ s/\n//r;
is($sstatus, 202, 'a send during the migration went through after it');

# the worker's map still names the first master: -MOVED

is(verify($mover, $scode // ''), 200, 'its code verifies after the move');

SKIP: {
    skip 'no other live number in that slot', 1 unless $late
        && rc($ports[0], 'CLUSTER', 'KEYSLOT', $rkey{$late}) == $slot;
    is(verify($late, $code{$late}), 200, 'a neighbour\'s code too');
}

open my $sf, '>', $stop; close $sf;
waitpid($load, 0);
my $loadout = $t->read_file('load.out');
unlike($loadout, qr/\b5\d\d=/, 'the requests that ran meanwhile: no 5xx')
    or diag($loadout);

# no code lost, no wrong answer: every live code verifies

my @rest = grep { !$done{$_} && $_ ne $mover && $_ ne ($late // '') }
           @live;
my %keep;
for my $i (0 .. 2) {
    my @on = grep { $rnode{$_} == $i } @rest;
    $keep{$_} = 1 for @on[0 .. 1];
}
my @check = grep { !$keep{$_} } @rest;
my $nok = grep { verify($_, $code{$_}) == 200 } @check;
is($nok, scalar @check, 'every other live code verifies after the reshard '
   . '(' . scalar(@check) . ')');
$done{$_} = 1 for @check;
@live = grep { $keep{$_} } @rest;

my $log = $t->read_file('error.log');
my $asks = () = $log =~ /otp redis cluster: ASK: /g;
my $moved = () = $log =~ /otp redis cluster: MOVED: /g;
my $tryagain = () = $log =~ /otp redis cluster: TRYAGAIN /g;
ok($asks >= 1, "ASK followed ($asks)");
ok($moved >= 1, "MOVED followed ($moved)");
ok($tryagain >= 1, "TRYAGAIN retried ($tryagain)");
note("redirects: $asks ASK, $moved MOVED, $tryagain TRYAGAIN");

###############################################################################

# the subscriber's master goes: its numbers 503, the others go on, and the
# subscriber moves to another node

my ($victim) = subscriber_node();
$cluster->stop_node($victim, 'KILL');

$done{$mover} = 1;
@live = grep { !$done{$_} && rc($ports[1], 'CLUSTER', 'KEYSLOT', $rkey{$_})
                             != $slot } @live;

my ($on_victim) = grep { $rnode{$_} == $victim && !$done{$_} } @live;
my ($on_other) = grep { $rnode{$_} != $victim && !$done{$_} } @live;

is(verify($on_victim, $code{$on_victim}), 503,
   'a number on the lost master: 503 (fail closed)');
is(verify($on_other, $code{$on_other}), 200,
   'a number on another master: served');
$done{$on_other} = 1;

my $moved_to = subscriber_node();
ok(defined $moved_to && $moved_to != $victim,
   'the subscriber moved to another node');

my ($last) = grep { $mnode{$_} >= 0 && $mnode{$_} != $victim
                    && $_ ne $other }
             @phones[0 .. 27];
$poll = long_poll($sid{$last});
ok(waiting($poll), 'a long-poll waits after the loss');
twilio_status($sid{$last}, 'delivered');
($hs, $status) = answer($poll);
is("$hs $status", '200 delivered', 'and is woken through the moved subscriber');

# a reload: the old worker's nodes, queues and subscriber go cleanly, the
# new worker reads the map again

$t->reload;
is(verify($on_other, $code{$on_other}), 410,
   'after a reload the new worker reaches the cluster (the code was used)');
($on_other) = grep { $rnode{$_} != $victim && $_ ne $on_other } @live;
is(verify($on_other, $code{$on_other}), 200, 'and a live code verifies');
$done{$on_other} = 1;

# the masters ask for a password: password_file= AUTHs on every node

$t->stop;
$t->write_file('redis.pass', "cluster-secret\n");
rc($ports[$_], 'CONFIG', 'SET', 'requirepass', 'cluster-secret')
    for $cluster->running;
(my $auth = $conf) =~ s{(redis-cluster://\S+)}
    {$1 password_file=$dir/redis.pass};
$t->write_config($auth)->run;
($on_other) = grep { $rnode{$_} != $victim && !$done{$_} } @live;
is(verify($on_other, '000000') . ' ' . verify($on_other, $code{$on_other}),
   '401 200', 'with password_file= the nodes answer (AUTH on each)');
$t->stop;

$t->write_file('redis.pass', "wrong\n");
$t->write_config($auth)->run;
is(verify($on_other, $code{$on_other}), 503,
   'a wrong password: 503, fail closed');
like($t->read_file('error.log'), qr/refused AUTH/, 'the refusal is logged');
$t->stop;

$cluster->stop;

# a plain Redis given as a cluster: CLUSTER SLOTS refused, every operation
# 503 at once (fail closed), the refusal logged

$t->start_redis;
(my $plain = $conf) =~ s{redis-cluster://\S+}
                        {redis-cluster://127.0.0.1:%%REDIS_PORT%%};
$t->write_config($plain)->run;
my $t1 = time;
is($t->post_form('/otp/send', { phone => $phones[0] })->{status}, 503,
   'a Redis without cluster support: 503');
ok(time - $t1 < 2, 'at once, not after the timeout');
like($t->read_file('error.log'),
     qr/otp redis cluster: 127\.0\.0\.1:\d+ refused CLUSTER SLOTS: ERR /,
     'the refusal is logged');
$t->stop;
$t->stop_redis;

# the directive's forms

my %bad = (
    'redis-cluster://' => qr/no redis cluster node/,
    'redis-cluster://127.0.0.1:7000,' => qr/a trailing comma/,
    'redis-cluster://127.0.0.1:7000,,127.0.0.1:7001' =>
        qr/invalid redis cluster node/,
    'redis-cluster://127.0.0.1:7000/1' => qr/invalid redis cluster node/,
    'redis-cluster://127.0.0.1:7000 db=1' => qr/no database but 0/,
    'redis-cluster://u:p@127.0.0.1:7000' => qr/credentials .* not supported/,
);

for my $form (sort keys %bad) {
    (my $c = $conf) =~ s{redis-cluster://\S+}{$form};
    like($t->check_config($c), $bad{$form}, "nginx -t refuses \"$form\"");
}

# a name among the seeds where this machine resolves one (a minimal root
# may have no /etc/hosts: then the numeric forms alone)
my $name = Socket::inet_aton('localhost') ? 'localhost' : '127.0.0.1';

(my $good = $conf) =~ s{redis-cluster://\S+}
    {redis-cluster://127.0.0.1:7000,$name:7001,[::1]:7002};
like($t->check_config($good), qr/test is successful/,
     "nginx -t takes several seeds ($name among them), resolved at start");

$t->done;

###############################################################################
