#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# The Redis store's Lua scripts (src/lua/*.lua) run directly against
# redis-server with EVAL, one block per rule of src/ngx_http_otp_store.h:
# what each answers, and what it leaves in Redis (fields and TTLs).  Times
# in a record are Redis's own (TIME, in ms), so a test sets a deadline in
# the past or the future by writing it relative to Redis's clock, and never
# sleeps.  And the header the module compiles, src/ngx_http_otp_store_lua.h,
# is what scripts/embed-lua makes of these files today.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use IO::Select;
use IO::Socket::INET;
use OtpTest;

###############################################################################

my $root = "$FindBin::Bin/..";

my $t = OtpTest->new->need_redis;

sub slurp {
    open my $f, '<', $_[0] or die "$_[0]: $!";
    local $/;
    return scalar <$f>;
}

plan(tests => 199);

# 1: the embedded header is up to date

my $embedded = `$root/scripts/embed-lua`;
is($? >> 8, 0, 'scripts/embed-lua runs');
ok($embedded eq slurp("$root/src/ngx_http_otp_store_lua.h"),
   'src/ngx_http_otp_store_lua.h is what scripts/embed-lua makes of '
   . 'src/lua/*.lua (run "scripts/embed-lua > src/ngx_http_otp_store_lua.h")');

$t->start_redis;

my %lua = map { $_ => -f "$root/src/lua/$_.lua"
                      ? slurp("$root/src/lua/$_.lua") : '' }
          qw(issue verify revoke budget message_put message_link status_set
             status_get optout code_live seen client analytics_get
             analytics_add);

my $P = 'aa' x 32;                  # a phone key, as hex
my $R = "otp:{$P}:r";
my $W = "otp:{$P}:w";
my $C = 'otp:c:{' . ('cc' x 32) . '}';
my $O = "otp:{$P}:o";
my ($CODE, $OTHER) = ('11' x 32, '22' x 32);

my $MAX = 4294967295;               # "otp_max_failures off"

sub redis { $t->redis_command(@_) // 'no answer' }

sub now {
    my ($s, $us) = split /\n/, redis('TIME');
    return $s * 1000 + int($us / 1000);
}

sub eval_script {
    my ($name, $keys, @argv) = @_;
    my $r = redis('EVAL', $lua{$name}, scalar(@$keys), @$keys, @argv);
    return [ split /\n/, $r ];
}

# ISSUE's arguments, each overridable by name
sub issue {
    my (%o) = (code => $CODE, ttl => 300000, resend => 0,
               lockout => 900000, max => 3, slimit => 10, swin => 900000,
               climit => 0, cwin => 3600000, lmax => 20,
               lwin => 86400000, @_);
    return eval_script('issue', [ $R, $W, $C, $O ],
        @o{qw(code ttl resend lockout max slimit swin climit cwin lmax
              lwin)});
}

sub verify { eval_script('verify', [ $R ], $_[0] // $CODE) }
sub revoke { eval_script('revoke', [ $R ], $_[0] // $CODE) }

sub record {
    my %h = split /\n/, redis('HGETALL', $_[0] // $R);
    return \%h;
}

sub pttl { redis('PTTL', $_[0] // $R) }

# a phone record as it is stored, with times relative to now
sub put_record {
    my (%f) = @_;
    my $now = now();
    my %rec = (max => 3, lockout => 900000, lmax => 20,
               lwin => 86400000, fails => 0, fend => 0, lfails => 0,
               lfend => 0, lock => 0, %f);

    for my $k (qw(exp sent lock fend lfend)) {
        $rec{$k} = $now + $rec{$k} if $rec{$k};
    }

    redis('DEL', $R, $W, $C);
    redis('HSET', $R, %rec);
    redis('PEXPIRE', $R, 86400000);
    return $now;
}

sub near {
    my ($got, $want, $name) = @_;
    ok(defined $got && $got =~ /^-?\d+$/ && abs($got - $want) <= 1000,
       $name) or diag("got " . ($got // 'undef') . ", want about $want");
}

sub clean { redis('FLUSHALL') }

###############################################################################

# ISSUE: a new number

clean();
my $now = now();
is_deeply(issue(), [0, 0, 0], 'issue: a new number OK');

my $rec = record();
is($rec->{code}, $CODE, 'issue: the code key is stored');
near($rec->{exp}, $now + 300000, 'issue: exp = now + ttl');
near($rec->{sent}, $now, 'issue: sent = now');
is("$rec->{max}/$rec->{lockout}/$rec->{lmax}/$rec->{lwin}",
   '3/900000/20/86400000', 'issue: the limits are stored');
is("$rec->{fails}/$rec->{lfails}", '0/0', 'issue: no failures yet');
near(pttl(), 300000, 'issue: the record lives as long as the code');
is(redis('HGET', $W, 'count'), 1, 'issue: the phone window counts it');
near(pttl($W), 900000, 'issue: the phone window lives send_window');
is(redis('EXISTS', $C), 0, 'issue: client_limit 0 counts no client');

# ISSUE: lock > now

put_record(code => $OTHER, exp => 60000, lock => 50000, fails => 3,
           fend => 40000);
my $r = issue();
is($r->[0], 1, 'issue: locked number LOCKED');
near($r->[1], 50000, 'issue: LOCKED, retry = lock');
is(record()->{code}, $OTHER, 'issue: LOCKED changes nothing');
is(redis('EXISTS', $W), 0, 'issue: LOCKED counts no send');

# ISSUE: failures over the merged max_attempts / max_failures

put_record(code => $OTHER, exp => 60000, max => 50, fails => 3,
           fend => 40000);
$r = issue(max => 3);
is($r->[0], 1, 'issue: failures >= the stricter max_attempts LOCKED');
near($r->[1], 40000, 'issue: retry = the end of the failure window');

put_record(code => $OTHER, exp => 60000, lmax => 100, lfails => 7,
           lfend => 70000000);
$r = issue(lmax => 5);
is($r->[0], 1, 'issue: failures >= the stricter max_failures LOCKED');
near($r->[1], 70000000, 'issue: retry = the end of the long window');
is(record()->{lmax}, 100, 'issue: that refusal changes nothing');

# ISSUE: cooldown

put_record(code => $OTHER, exp => 60000, sent => -10000);
$r = issue(resend => 30000);
is($r->[0], 2, 'issue: a live code sent moments ago COOLDOWN');
near($r->[1], 20000, 'issue: retry = sent + resend_after');

put_record(code => $OTHER, exp => -1, sent => -10000, fails => 1,
           fend => 60000);
is(issue(resend => 30000)->[0], 0, 'issue: no cooldown after the code died');

# ISSUE: the send windows

clean();
redis('HSET', $W, 'count', 10, 'end', now() + 30000);
redis('PEXPIRE', $W, 30000);
$r = issue(slimit => 10);
is($r->[0], 3, 'issue: the phone window full LIMITED');
near($r->[1], 30000, 'issue: retry = the end of the phone window');
is(redis('EXISTS', $R), 0, 'issue: LIMITED stores no code');

clean();
redis('HSET', $C, 'count', 2, 'end', now() + 20000);
redis('PEXPIRE', $C, 20000);
$r = issue(climit => 2);
is($r->[0], 4, 'issue: the client window full CLIENT_LIMITED');
near($r->[1], 20000, 'issue: retry = the end of the client window');
is(redis('EXISTS', $W), 0, 'issue: CLIENT_LIMITED counts no send');

clean();
is(issue(climit => 2)->[0], 0, 'issue: client_limit 2, first send OK');
is(redis('HGET', $C, 'count'), 1, 'issue: the client window counts it');

# ISSUE: a new code keeps the failures counted in their windows

$now = put_record(code => $OTHER, exp => -1, fails => 2, fend => 600000,
                  lfails => 5, lfend => 7200000);
is(issue(ttl => 1000)->[0], 0, 'issue: after the code expired, OK');
$rec = record();
is($rec->{code}, $CODE, 'issue: the new code replaces the old');
is("$rec->{fails}/$rec->{lfails}", '2/5',
   'issue: the failures outlive the expired code');
near(pttl(), 7200000,
     'issue: the record lives as long as its longest failure window');

put_record(code => $OTHER, exp => 60000, fails => 2, fend => -1,
           lfails => 5, lfend => -1);
issue();
$rec = record();
is("$rec->{fails}/$rec->{fend}/$rec->{lfails}/$rec->{lfend}", '0/0/0/0',
   'issue: ended failure windows count 0');

# ISSUE: a live record keeps the strictest limits

put_record(code => $OTHER, exp => 60000, max => 3, lockout => 900000,
           lmax => 5, lwin => 3600000, fails => 1, fend => 60000);
issue(max => 50, lockout => 2000, lmax => 100, lwin => 1000);
$rec = record();
is("$rec->{max}/$rec->{lockout}/$rec->{lmax}/$rec->{lwin}",
   '3/900000/5/3600000', 'issue: a looser resend loosens nothing');

put_record(code => $OTHER, exp => 60000, max => 50, lockout => 2000,
           lmax => 100, lwin => 1000);
issue(max => 3, lockout => 900000, lmax => 5, lwin => 3600000);
$rec = record();
is("$rec->{max}/$rec->{lockout}/$rec->{lmax}/$rec->{lwin}",
   '3/900000/5/3600000', 'issue: a stricter resend tightens');

clean();
redis('HSET', $R, 'code', $OTHER, 'exp', now() - 1, 'max', 3,
      'lockout', 900000, 'lmax', 5, 'lwin', 3600000);
issue(max => 50, lockout => 2000, lmax => 100, lwin => 1000);
$rec = record();
is("$rec->{max}/$rec->{lockout}/$rec->{lmax}/$rec->{lwin}",
   '50/2000/100/1000', 'issue: a dead record\'s limits are forgotten');

clean();
issue(lmax => 0);
is(record()->{lmax}, $MAX, 'issue: max_failures 0 means no limit');

###############################################################################

# VERIFY

clean();
is_deeply(verify(), [2, 0, 0], 'verify: no record EXPIRED');

put_record(code => $CODE, exp => 60000, lock => 30000);
$r = verify();
is($r->[0], 3, 'verify: locked EXHAUSTED, even the right code');
near($r->[1], 30000, 'verify: EXHAUSTED, retry = lock');

put_record(fails => 1, fend => 60000);
is_deeply(verify(), [2, 0, 0], 'verify: failures but no code EXPIRED');

put_record(code => $CODE, exp => -1, fails => 1, fend => 60000);
is_deeply(verify(), [2, 0, 0], 'verify: an expired code EXPIRED');

put_record(code => $CODE, exp => 60000, fails => 2, fend => 60000,
           lfails => 9, lfend => 600000);
is_deeply(verify(), [0, 0, 0], 'verify: the right code OK');
is(redis('EXISTS', $R), 0,
   'verify: OK deletes the record, both failure counters with it');

$now = put_record(code => $CODE, exp => 1000, max => 3, lockout => 900000,
                  lmax => 20, lwin => 86400000);
is_deeply(verify($OTHER), [1, 0, 2], 'verify: a wrong code INVALID, 2 left');
$rec = record();
is("$rec->{fails}/$rec->{lfails}", '1/1', 'verify: both counters count it');
near($rec->{fend}, $now + 900000, 'verify: fend = now + lockout');
near($rec->{lfend}, $now + 86400000,
     'verify: lfend = first failure + failure_window');
near(pttl(), 86400000,
     'verify: the failures outlive the code (record TTL = lfend)');
is($rec->{code}, $CODE, 'verify: the code lives on');

$now = put_record(code => $CODE, exp => 60000, fails => 1, fend => 10000,
                  lfails => 1, lfend => 600000);
is_deeply(verify($OTHER), [1, 0, 1], 'verify: a second failure, 1 left');
$rec = record();
near($rec->{fend}, $now + 900000,
     'verify: the short window moves to lockout after the last failure');
near($rec->{lfend}, $now + 600000, 'verify: the long window stays fixed');

put_record(code => $CODE, exp => 60000, lmax => 4, lfails => 2,
           lfend => 600000);
is_deeply(verify($OTHER), [1, 0, 1],
          'verify: remaining is the lower of the two limits');

$now = put_record(code => $CODE, exp => 60000, max => 3, fails => 2,
                  fend => 30000);
is_deeply(verify($OTHER), [1, 0, 0],
          'verify: the guess that makes max_attempts failures 401, 0 left');
$rec = record();
ok(!exists $rec->{code} && !exists $rec->{exp}, 'verify: the code is dropped');
near($rec->{lock}, $now + 900000, 'verify: lock = now + lockout');
$r = verify();
is($r->[0], 3, 'verify: then the right code EXHAUSTED');

$now = put_record(code => $CODE, exp => 60000, max => 3, lmax => 5,
                  lfails => 4, lfend => 7200000);
is_deeply(verify($OTHER), [1, 0, 0],
          'verify: the guess that makes max_failures failures 401, 0 left');
near(record()->{lock}, $now + 7200000,
     'verify: lock = the end of the long window');
$r = issue();
is($r->[0], 1, 'verify: and a send is LOCKED until then');
near($r->[1], 7200000, 'verify: retry = the end of the long window');

put_record(code => $CODE, exp => 60000, max => 3, fails => 2, fend => -1,
           lfails => 19, lfend => -1);
is_deeply(verify($OTHER), [1, 0, 2],
          'verify: failures in ended windows count 0');

$now = put_record(code => $CODE, exp => 60000, max => 3, fails => 3,
                  fend => 60000);
$r = verify();
is($r->[0], 3,
   'verify: failures >= max_attempts without a lock EXHAUSTED (defensive)');
near(record()->{lock}, $now + 900000, 'verify: and the number is locked');

clean();
is(issue(ttl => 300000, lmax => 0)->[0], 0, 'verify: issue with no long limit');
is_deeply(verify($OTHER), [1, 0, 2],
          'verify: max_failures off: max_attempts alone counts');

###############################################################################

# REVOKE

$now = put_record(code => $CODE, exp => 60000, sent => -1000, fails => 1,
                  fend => 600000, lfails => 1, lfend => 7200000);
is_deeply(revoke(), [0, 0, 0], 'revoke: the record\'s code OK');
$rec = record();
ok(!exists $rec->{code} && !exists $rec->{exp} && !exists $rec->{sent},
   'revoke: the code and the sent time are dropped');
is("$rec->{fails}/$rec->{lfails}", '1/1', 'revoke: the failures are kept');
near(pttl(), 7200000, 'revoke: the record lives for its failure windows');
is_deeply(verify(), [2, 0, 0], 'revoke: the code never verifies');
is(issue(resend => 60000)->[0], 0, 'revoke: no cooldown after it');

put_record(code => $OTHER, exp => 60000, sent => -1000);
is_deeply(revoke(), [1, 0, 0], 'revoke: a newer send\'s code EXPIRED');
is(record()->{code}, $OTHER, 'revoke: and that code is left alone');

put_record(code => $CODE, exp => 60000, sent => -1000);
revoke();
is(redis('EXISTS', $R), 0, 'revoke: nothing left to limit: no record');

clean();
is_deeply(revoke(), [1, 0, 0], 'revoke: no record EXPIRED');

###############################################################################

# BUDGET: the counter of the clock hour; one caller is first_over

clean();
my $B = 'otp:b:{twilio}';
is_deeply(eval_script('budget', [ $B ], 2, 60000), [0, 0, 0],
          'budget: 1 <= 2 OK');
eval_script('budget', [ $B ], 2, 60000);
$r = eval_script('budget', [ $B ], 2, 60000);
is("$r->[0]/$r->[2]", '1/1', 'budget: 3 > 2 LIMITED, first_over');
ok($r->[1] > 0 && $r->[1] <= 3600000, 'budget: retry = the end of the hour');
$r = eval_script('budget', [ $B ], 2, 60000);
is("$r->[0]/$r->[2]", '1/0', 'budget: 4 > 2 LIMITED, not first_over');

# MESSAGE_PUT

clean();
my $M = 'otp:m:{SM123}';
redis('HSET', $M, 'status', 'delivered', 'error', 30003);
is_deeply(eval_script('message_put', [ $M ], 'sms', 'twilio', $P, 60000,
                      '', ''),
          [0], 'message put: OK');
$rec = record($M);
is(join(',', map { "$_=$rec->{$_}" } qw(status channel provider phone)),
   "status=queued,channel=sms,provider=twilio,phone=$P",
   'message put: the record');
ok(!exists $rec->{error}, 'message put: replaces a record whole');
near(pttl($M), 60000, 'message put: kept for message_ttl');
ok(!exists $rec->{prev} && !exists $rec->{fb},
   'message put: no prev, no fallback: no such fields');

###############################################################################

# The message record's scripts hand out bytes (the fallback blob): their
# replies are read here structured, arrays as array refs, strings byte for
# byte.

sub resp_parse {
    my ($in, $at) = @_;

    my $nl = index($in, "\r\n", $at);
    return () if $nl < 0;

    my ($type, $line) = (substr($in, $at, 1),
                         substr($in, $at + 1, $nl - $at - 1));
    $at = $nl + 2;

    return ($line, $at) if $type eq '+' || $type eq ':';
    return ("-$line", $at) if $type eq '-';

    if ($type eq '$') {
        return (undef, $at) if $line < 0;
        return () if length($in) < $at + $line + 2;
        return (substr($in, $at, $line), $at + $line + 2);
    }

    my @items;

    for (1 .. $line) {
        my ($v, $next) = resp_parse($in, $at);
        return () unless defined $next;
        push @items, $v;
        $at = $next;
    }

    return (\@items, $at);
}

sub resp_connect {
    return IO::Socket::INET->new(
        PeerAddr => '127.0.0.1:' . $t->port('REDIS_PORT'), Timeout => 2)
        // die "redis: $!";
}

sub resp_send {
    my ($s, @args) = @_;
    syswrite $s, '*' . scalar(@args) . "\r\n"
        . join('', map { '$' . length($_) . "\r\n$_\r\n" } @args);
}

# the next reply on $s; undef when none comes within 2 s (a bound that
# only stops a failing test from hanging)
my %inbuf;

sub resp_recv {
    my ($s) = @_;

    my $sel = IO::Select->new($s);
    my $buf = \$inbuf{fileno $s};
    $$buf //= '';

    for (1 .. 100) {
        my ($v, $at) = resp_parse($$buf, 0);
        if (defined $at) {
            substr($$buf, 0, $at) = '';
            return $v;
        }
        last unless $sel->can_read(2);
        sysread($s, $$buf, 65536, length $$buf) or last;
    }

    return undef;
}

sub call {
    my $s = resp_connect();
    resp_send($s, @_);
    my $r = resp_recv($s);
    delete $inbuf{fileno $s};
    close $s;
    return $r;
}

sub script {
    my ($name, $keys, @argv) = @_;
    return call('EVAL', $lua{$name}, scalar(@$keys), @$keys, @argv);
}

# every byte, CR LF and NUL among them
my $BLOB = join('', map { chr } 0 .. 255) . "\r\n\0end";
my $ID = 'SM123';

sub put_message {
    clean();
    script('message_put', [ $M ], 'sms', 'twilio', $P, 60000, 'SM000',
           $BLOB);
}

# STATUS_SET: 1 queued, 2 sent, 3 delivered, 4 read, 5 undelivered,
# 6 failed
sub status_set {
    my ($status, %o) = (@_);
    return script('status_set', [ $M ], $o{provider} // 'twilio', $status,
                  $o{error} // '', $o{id} // $ID);
}

# MESSAGE_PUT: prev and the fallback blob

put_message();
is(call('HGET', $M, 'prev'), 'SM000', 'message put: prev = link_id');
ok(call('HGET', $M, 'fb') eq $BLOB,
   'message put: the fallback blob is stored byte for byte');

# MESSAGE_LINK

clean();
is_deeply(script('message_link', [ $M ], 'SM999'), [1],
          'message link: no record NOT_FOUND');
is(call('EXISTS', $M), 0, 'message link: NOT_FOUND creates nothing');
put_message();
is_deeply(script('message_link', [ $M ], 'SM999'), [0], 'message link: OK');
is(call('HGET', $M, 'next'), 'SM999', 'message link: next = link_id');
near(pttl($M), 60000, 'message link: the record keeps its TTL');

# STATUS_GET

clean();
is_deeply(script('status_get', [ $M ]), [1],
          'status get: no record NOT_FOUND');
put_message();
$now = now();
$r = script('status_get', [ $M ]);
near($r->[7], $now, 'status get: updated');
$r->[7] = 'T';
is_deeply($r, [0, 1, 'sms', 'twilio', '', '', 'SM000', 'T'],
          'status get: the record, queued, and never the blob');

# STATUS_SET: who may report

clean();
is_deeply(status_set(2), [1], 'status set: no record NOT_FOUND');
is(call('EXISTS', $M), 0, 'status set: NOT_FOUND creates nothing');

put_message();
is_deeply(status_set(6, provider => 'meta'), [1],
          'status set: another provider\'s report NOT_FOUND');
is(call('HGET', $M, 'status') . '/' . (call('HGET', $M, 'fb') eq $BLOB),
   'queued/1', 'status set: and changes nothing, the blob kept');

# STATUS_SET: statuses move forward only

put_message();
$now = now();
$r = status_set(2);
near($r->[7], $now, 'status set: updated = now');
$r->[7] = 'T';
my $created = call('HGET', $M, 'created');
is_deeply($r, [0, 2, 'sms', 'twilio', '', '', 'SM000', 'T', '', '',
               $created],
          'status set: queued -> sent OK, the record after the change '
          . '(and when it was created)');
ok(call('HGET', $M, 'status') eq 'sent' && call('HGET', $M, 'fb') eq $BLOB,
   'status set: sent stored, the blob stays (not terminal)');

call('HSET', $M, 'updated', 1000);
$r = status_set(2);
is_deeply($r, [2, 2, 'sms', 'twilio', '', '', 'SM000', 1000, '', '',
               $created],
          'status set: sent again UNCHANGED, the record as it is');
is_deeply(status_set(1), [2, 2, 'sms', 'twilio', '', '', 'SM000', 1000, '',
                          '', $created],
          'status set: a late queued after sent UNCHANGED');
is(call('HGET', $M, 'updated'), 1000, 'status set: UNCHANGED changes nothing');

$r = status_set(3);
is("$r->[0]/$r->[1]/$r->[8]", '0/3/', 'status set: sent -> delivered OK, '
   . 'no blob handed out');
is(call('HEXISTS', $M, 'fb'), 0,
   'status set: delivered (terminal) drops the blob');
near(pttl($M), 60000, 'status set: the record keeps its TTL');

for ([2, 'sent'], [1, 'queued'], [6, 'failed'], [5, 'undelivered']) {
    is(status_set($_->[0])->[0], 2,
       "status set: delivered -> $_->[1] UNCHANGED");
}

is(status_set(4)->[0], 0, 'status set: delivered -> read OK');

for ([3, 'delivered'], [6, 'failed'], [4, 'read']) {
    is(status_set($_->[0])->[0], 2, "status set: read -> $_->[1] UNCHANGED");
}

put_message();
is_deeply([ @{ status_set(4) }[0, 1] ], [0, 4],
          'status set: queued -> read OK (reports skip steps)');

# STATUS_SET: every pair of statuses, the rule of ngx_otp_status_advances()
# (src/ngx_otp_core.h) written out: + a step forward (OK), - not (UNCHANGED)

my @names = qw(queued sent delivered read undelivered failed);
my %advances = (
    #               q s d r u f
    queued      => '- + + + + +',
    sent        => '- - + + + +',
    delivered   => '- - - + - -',
    read        => '- - - - - -',
    undelivered => '- - - - - -',
    failed      => '- - - - - -',
);

for my $from (@names) {
    my @want = split / /, $advances{$from};
    my @got;

    for my $to (1 .. 6) {
        put_message();
        call('HSET', $M, 'status', $from);
        my $r = status_set($to)->[0];
        my $now = call('HGET', $M, 'status');
        push @got, $r == 0 && $now eq $names[$to - 1] ? '+'
                   : $r == 2 && $now eq $from ? '-' : '?';
    }

    is("@got", "@want", "status set: from $from to each status");
}

# STATUS_SET: the fallback blob, handed out once

put_message();
status_set(2);
$r = status_set(6, error => '30003');
is("$r->[0]/$r->[1]/$r->[4]", '0/6/30003',
   'status set: sent -> failed OK, the error code stored');
ok($r->[8] eq $BLOB, 'status set: failed hands out the blob byte for byte');
is($r->[9], $P, 'status set: with the record\'s phone key');
is(call('HEXISTS', $M, 'fb'), 0, 'status set: the blob left the record');
$r = status_set(5);
is("$r->[0]/$r->[8]/$r->[9]", '2//',
   'status set: a second failure report UNCHANGED, no blob');

put_message();
$r = status_set(5);
ok($r->[0] == 0 && $r->[8] eq $BLOB && $r->[9] eq $P,
   'status set: queued -> undelivered hands out the blob');

put_message();
status_set(2, error => 'E1');
$r = status_set(3);
is($r->[4], 'E1', 'status set: an error code is kept when none is given');

clean();
script('message_put', [ $M ], 'sms', 'twilio', $P, 60000, '', '');
$r = status_set(6);
is("$r->[0]/$r->[8]/$r->[9]", '0//',
   'status set: failed with no blob hands out nothing');

# STATUS_SET: a change is announced on "otp:status", and only a change

my $sub = resp_connect();
resp_send($sub, 'SUBSCRIBE', 'otp:status');
is_deeply(resp_recv($sub), [ 'subscribe', 'otp:status', 1 ],
          'a raw SUBSCRIBE to otp:status');

put_message();
status_set(2);
is_deeply(resp_recv($sub), [ 'message', 'otp:status', $ID ],
          'status set: OK publishes the message id');

status_set(2);
status_set(1);
status_set(6, provider => 'meta');
status_set(3, id => 'SM456');
is_deeply(resp_recv($sub), [ 'message', 'otp:status', 'SM456' ],
          'status set: UNCHANGED and NOT_FOUND published nothing (the '
          . 'next message is the next OK)');
close $sub;

# OPTOUT_SET / OPTOUT_CLEAR, and ISSUE

clean();
is_deeply(script('optout', [ $O ], 1), [0], 'optout set: OK');
is(call('GET', $O), 1, 'optout set: the number is listed');
is(call('PTTL', $O), -1, 'optout set: for good (no TTL)');

is_deeply(issue(climit => 2), [5, 0, 0], 'issue: an opted-out number '
          . 'OPTED_OUT');
is(call('EXISTS', $R, $W, $C), 0,
   'issue: OPTED_OUT stores no code, counts no send');

put_record(code => $OTHER, exp => 60000, lock => 50000, fails => 3,
           fend => 40000);
script('optout', [ $O ], 1);
my %before = %{ record() };
is(issue()->[0], 5, 'issue: the opt-out is checked before everything');
is_deeply(record(), \%before, 'issue: OPTED_OUT changes nothing');

is_deeply(script('optout', [ $O ], 0), [0], 'optout clear: OK');
is(call('EXISTS', $O), 0, 'optout clear: the number leaves the list');
clean();
is(issue()->[0], 0, 'issue: after optout clear OK');
is_deeply(script('optout', [ $O ], 0), [1],
          'optout clear: a number not listed NOT_FOUND');
is(call('EXISTS', $O), 0, 'optout clear: NOT_FOUND lists nothing');

# CODE_LIVE

clean();
is_deeply(script('code_live', [ $R, $O ], $CODE), [1],
          'code live: no record EXPIRED');
put_record(code => $CODE, exp => 60000, fails => 1, fend => 60000);
%before = %{ record() };
is_deeply(script('code_live', [ $R, $O ], $CODE), [0],
          'code live: the code, unexpired, not locked OK');
is_deeply(record(), \%before, 'code live: changes nothing, counts nothing');
is_deeply(script('code_live', [ $R, $O ], $OTHER), [1],
          'code live: another code EXPIRED');
put_record(code => $CODE, exp => -1);
is_deeply(script('code_live', [ $R, $O ], $CODE), [1],
          'code live: an expired code EXPIRED');
put_record(code => $CODE, exp => 60000, lock => 30000);
is_deeply(script('code_live', [ $R, $O ], $CODE), [1],
          'code live: a locked number EXPIRED');
put_record(code => $CODE, exp => 60000);
script('optout', [ $O ], 1);
%before = %{ record() };
is_deeply(script('code_live', [ $R, $O ], $CODE), [2],
          'code live: an opted-out number OPTED_OUT');
is_deeply(record(), \%before, 'code live: OPTED_OUT changes nothing');
is(call('EXISTS', $O), 1, 'code live: and the number stays listed');

# SEEN: one set-if-absent with its TTL, no record read or changed besides

clean();
my $S = 'otp:s:{' . ('dd' x 32) . '}';
is_deeply(script('seen', [ $S ], 120000), [0], 'seen: a new id OK');
near(call('PTTL', $S), 120000, 'seen: kept for the TTL given (ms)');
is_deeply(script('seen', [ $S ], 120000), [1], 'seen: the same id SEEN');
near(call('PTTL', $S), 120000,
     'seen: SEEN does not extend the TTL (the first acceptance counts)');
is_deeply(script('seen', [ 'otp:s:{' . ('ee' x 32) . '}' ], 120000), [0],
          'seen: another id OK');
call('PEXPIREAT', $S, 1);             # its TTL over, without a sleep
is_deeply(script('seen', [ $S ], 120000), [0],
          'seen: after its TTL the id is new again');
is(call('DBSIZE'), 2, 'seen: one key per id, nothing else');

# CLIENT (Redis Cluster): ISSUE's client window on its own, the same rules

clean();
is_deeply(script('client', [ $C ], 2, 3600000), [0, 0, 0],
          'client: the first send OK');
is(call('HGET', $C, 'count'), 1, 'client: counted');
near(call('PTTL', $C), 3600000, 'client: the window lives its length');
is_deeply(script('client', [ $C ], 2, 3600000), [0, 0, 0],
          'client: the second OK');
my $cr = script('client', [ $C ], 2, 3600000);
is($cr->[0], 4, 'client: the window full CLIENT_LIMITED');
near($cr->[1], 3600000, 'client: retry = the end of the window');
is(call('HGET', $C, 'count'), 2, 'client: a refusal counts nothing');

clean();
my $cnow = now();
call('HSET', $C, 'count', 1, 'end', $cnow + 10000, 'start', $cnow - 50000);
call('PEXPIRE', $C, 10000);
script('client', [ $C ], 5, 3600000);
near(call('PTTL', $C), 3550000,
     'client: a longer window stretches it from its start');

call('HSET', $C, 'count', 9, 'end', 1);
is_deeply(script('client', [ $C ], 2, 3600000), [0, 0, 0],
          'client: after its end a new window');
is(call('HGET', $C, 'count'), 1, 'client: counted from 1 again');

# analytics: counted inside MESSAGE_PUT and STATUS_SET, in the hour's
# hash otp:{a}:HOUR, kept to the hour's end + the retention; a retention
# of 0 (what a Cluster passes) counts nothing

sub hour_key { 'otp:{a}:' . int(now() / 3_600_000) * 3600 }

sub counters {
    my $h = call('HGETALL', hour_key()) || [];
    my %h = @$h;
    return join(' ', map { "$_=$h{$_}" } sort keys %h);
}

sub put_counted {
    my ($id, $cost, $keep) = @_;
    script('message_put', [ "otp:m:{$id}" ], 'whatsapp', 'tw', $P, 60000,
           '', '', $cost, '44', $keep // 7200000);
}

sub set_counted {
    my ($id, $status, $error, $keep) = @_;
    return script('status_set', [ "otp:m:{$id}" ], 'tw', $status,
                  $error // '', $id, $keep // 7200000);
}

clean();
put_counted('A1', 1500);
put_counted('A2', '');
put_counted('A3', 2500);
is(counters(), 'c|whatsapp|tw|44|cost=4000 c|whatsapp|tw|44|s=3',
   'analytics: sent and cost (an unknown cost adds nothing)');

my $hour = int(now() / 3_600_000) * 3600;
near(call('PTTL', hour_key()) + now(), ($hour + 3600) * 1000 + 7200000,
     'analytics: kept to the end of the hour + the retention');
is(call('HGET', 'otp:m:{A1}', 'cost') . '/' . call('HGET', 'otp:m:{A1}', 'cc'),
   '1500/44', 'analytics: the record keeps cost and country');

set_counted('A1', 2);
set_counted('A1', 3);
set_counted('A1', 4);
set_counted('A1', 3);
set_counted('A2', 4);
set_counted('A3', 6, '63016');
set_counted('A3', 5);
my %c = @{ call('HGETALL', hour_key()) };
is(join(' ', map { "$_=" . ($c{"c|whatsapp|tw|44|$_"} // 0) }
             qw(s d f n h0)),
   's=3 d=2 f=1 n=2 h0=2',
   'analytics: delivered once per message (read after delivered is not '
   . 'counted), failed once');
ok(defined $c{'c|whatsapp|tw|44|ms'} && $c{'c|whatsapp|tw|44|ms'} >= 0
   && $c{'c|whatsapp|tw|44|ms'} < 2000, 'analytics: the delivery times');
is($c{'e|whatsapp|tw|44|63016'}, 1, 'analytics: the failure by its code');

put_counted('A4', 1);
set_counted('A4', 5);
is(call('HGET', hour_key(), 'e|whatsapp|tw|44|unknown'), 1,
   'analytics: a failure without a code is "unknown"');
is(call('HGET', 'otp:m:{A4}', 'error'), '',
   'analytics: and the record keeps no error code');

clean();
put_counted('C1', 10, 0);
set_counted('C1', 3, '', 0);
is(call('EXISTS', hour_key()), 0, 'analytics: retention 0 counts nothing');

# a Cluster: a negative retention answers the counters instead, and
# analytics_add.lua adds them in the hour's slot

clean();
is_deeply(script('message_put', [ 'otp:m:{K1}' ], 'sms', 'tw', $P, 60000,
                 '', '', 1500, '44', -7200000),
          [0, [ 'c|sms|tw|44|s', 1, 'c|sms|tw|44|cost', 1500 ]],
          'analytics (cluster): message put answers its counters');
$r = script('status_set', [ 'otp:m:{K1}' ], 'tw', 6, '30008', 'K1',
            -7200000);
is_deeply($r->[11], [ 'c|sms|tw|44|f', 1, 'e|sms|tw|44|30008', 1 ],
          'analytics (cluster): status set answers its counters last');
is(call('EXISTS', hour_key()), 0,
   'analytics (cluster): and neither counts here');
is_deeply(script('analytics_add', [ 'otp:{a}' ], 7200000,
                 'c|sms|tw|44|s', 1, 'c|sms|tw|44|cost', 1500), [0],
          'analytics add: OK');
is(counters(), 'c|sms|tw|44|cost=1500 c|sms|tw|44|s=1',
   'analytics add: counted in the hour\'s hash');
near(call('PTTL', hour_key()) + now(), ($hour + 3600) * 1000 + 7200000,
     'analytics add: kept to the end of the hour + the retention');

clean();
call('HSET', "otp:{a}:$hour", 'c|sms|x|1|s', 2);
call('HSET', 'otp:{a}:' . ($hour - 7200), 'c|sms|x|1|s', 1);
call('HSET', 'otp:{a}:' . ($hour + 3600), 'c|sms|x|1|s', 5);
is_deeply(script('analytics_get', [ 'otp:{a}' ], $hour - 7200, $hour + 3600,
                 'rows', 50000),
          [0, $hour - 7200, $hour, [ 'c|sms|x|1|s', 2 ], $hour - 7200,
           [ 'c|sms|x|1|s', 1 ]],
          'analytics get: the hours of the range with counters, newest '
          . 'first, "to" excluded, all read');

# a budget of fields a call: an hour at least, then where to go on from

is_deeply(script('analytics_get', [ 'otp:{a}' ], $hour - 7200, $hour + 3600,
                 'rows', 1),
          [0, $hour, $hour, [ 'c|sms|x|1|s', 2 ]],
          'analytics get: a budget read, the rest left from the next hour');
is_deeply(script('analytics_get', [ 'otp:{a}' ], $hour - 7200, $hour,
                 'rows', 1),
          [0, $hour - 7200, $hour - 7200, [ 'c|sms|x|1|s', 1 ]],
          'analytics get: and the rest, past an empty hour');

# sum: sent and delivered over the range, one list, as the hour "next"

call('HSET', "otp:{a}:$hour", 'c|sms|x|1|d', 1, 'c|sms|x|1|ms', 700,
     'e|sms|x|1|30008', 4, 'c|sms|y|1|s', 6);
$r = script('analytics_get', [ 'otp:{a}' ], $hour - 7200, $hour + 3600,
            'sum', 50000);
is(join(' ', @$r[0 .. 2]) . ' '
   . join(' ', map { "$_=" . { @{ $r->[3] || [] } }->{$_} }
                   sort keys %{ { @{ $r->[3] || [] } } }),
   "0 " . ($hour - 7200) . ' ' . ($hour - 7200)
   . ' c|sms|x|1|d=1 c|sms|x|1|s=3 c|sms|y|1|s=6',
   'analytics get: sum, sent and delivered only');
is_deeply(script('analytics_get', [ 'otp:{a}' ], $hour - 3600, $hour,
                 'sum', 50000),
          [0, $hour - 3600], 'analytics get: sum of nothing');

# ISSUE as a cluster runs it: client_limit 0, the phone window as KEYS[3]

clean();
is_deeply(script('issue', [ $R, $W, $W, $O ], $CODE, 300000, 0, 900000, 3,
                 10, 900000, 0, 3600000, 20, 86400000),
          [0, 0, 0], 'issue (cluster): OK');
is(call('HGET', $W, 'count'), 1,
   'issue (cluster): the phone window counted once, no client key');

$t->stop_redis;

###############################################################################
