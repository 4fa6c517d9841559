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
use OtpTest;

###############################################################################

my $root = "$FindBin::Bin/..";

my $t = OtpTest->new->need_redis;

sub slurp {
    open my $f, '<', $_[0] or die "$_[0]: $!";
    local $/;
    return scalar <$f>;
}

plan(tests => 89);

# 1: the embedded header is up to date

my $embedded = `$root/scripts/embed-lua`;
is($? >> 8, 0, 'scripts/embed-lua runs');
ok($embedded eq slurp("$root/src/ngx_http_otp_store_lua.h"),
   'src/ngx_http_otp_store_lua.h is what scripts/embed-lua makes of '
   . 'src/lua/*.lua (run "scripts/embed-lua > src/ngx_http_otp_store_lua.h")');

$t->start_redis;

my %lua = map { $_ => -f "$root/src/lua/$_.lua"
                      ? slurp("$root/src/lua/$_.lua") : '' }
          qw(issue verify revoke budget message_put);

my $P = 'aa' x 32;                  # a phone key, as hex
my $R = "otp:{$P}:r";
my $W = "otp:{$P}:w";
my $C = 'otp:c:{' . ('cc' x 32) . '}';
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
    return eval_script('issue', [ $R, $W, $C ],
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
is_deeply(eval_script('message_put', [ $M ], 'sms', 'twilio', $P, 60000),
          [0], 'message put: OK');
$rec = record($M);
is(join(',', map { "$_=$rec->{$_}" } qw(status channel provider phone)),
   "status=queued,channel=sms,provider=twilio,phone=$P",
   'message put: the record');
ok(!exists $rec->{error}, 'message put: replaces a record whole');
near(pttl($M), 60000, 'message put: kept for message_ttl');

$t->stop_redis;

###############################################################################
