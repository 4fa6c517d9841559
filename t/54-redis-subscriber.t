#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# The Redis store's subscriber (src/ngx_http_otp_store_redis_sub.c): one
# connection per worker, SUBSCRIBEd to "otp:status", made on the first
# long-poll and kept.  A status change PUBLISHed by status_set.lua wakes a
# waiting GET /otp/status/{id}?wait=N; when the subscriber is cut off
# (CLIENT KILL TYPE pubsub, Redis restarted) it reconnects by itself, and
# its new subscription makes the waiters look again (a change it never
# heard is not lost) and hears the changes that follow.
#
# The changes are made in Redis directly, with the script the module runs
# (EVAL of src/lua/status_set.lua), or with HSET where a change must not be
# announced.  A long-poll that nothing wakes answers after its wait (15 s)
# with the status it read first: each test checks the status the answer
# carries, and a coarse bound on how long it took.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use IO::Select;
use POSIX qw(_exit);
use Time::HiRes qw(sleep time);
use OtpTest;

###############################################################################

my $t = OtpTest->new->need_redis;

$t->plan(18);

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

        location /otp/status/ {
            otp_status;
        }
    }
}

EOF

$t->run;

my $lua = do {
    open my $f, '<', "$FindBin::Bin/../src/lua/status_set.lua" or die $!;
    local $/;
    <$f>;
};

sub redis { $t->redis_command(@_) // 'no answer' }

# a message record as MESSAGE_PUT leaves it
sub put_message {
    my ($id) = @_;
    redis('HSET', "otp:m:{$id}", 'status', 'queued', 'channel', 'sms',
          'provider', 'dev', 'phone', 'aa' x 32, 'created', 1, 'updated', 1);
    redis('PEXPIRE', "otp:m:{$id}", 600000);
}

# a delivery report, as the module applies it: 3 delivered, 6 failed
sub status_set {
    my ($id, $status) = @_;
    return redis('EVAL', $lua, 1, "otp:m:{$id}", 'dev', $status, '', $id);
}

# the subscribers' client ids (CLIENT LIST), once there are $n of them,
# none of them in @old
sub subscribers {
    my ($n, @old) = @_;
    my %old = map { $_ => 1 } @old;
    my $deadline = time + 10;
    my @ids;

    while (time < $deadline) {
        @ids = map { /\bid=(\d+)/ ? $1 : () }
               grep { /cmd=subscribe\b/ }
               split /\n/, redis('CLIENT', 'LIST');

        return @ids if @ids == $n && !grep { $old{$_} } @ids;

        sleep 0.05;
    }

    return ();
}

# a long-poll in a child: its answer is read by answer()
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

    return { pid => $pid, fh => $r, id => $id };
}

sub answer {
    my ($poll) = @_;
    my $fh = $poll->{fh};
    my $line = <$fh> // '0 none 0';
    waitpid($poll->{pid}, 0);
    chomp $line;
    return split / /, $line;
}

# the long-poll has reached its wait: the waiter registry read the record
# (ngx_http_otp_wait.c's debug line), and the request is unanswered
my $reads = 0;

sub waiting {
    my ($poll) = @_;
    my $deadline = time + 5;
    my $sel = IO::Select->new($poll->{fh});

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

###############################################################################

# no subscriber before the first long-poll

is(scalar(grep { /cmd=subscribe\b/ } split /\n/, redis('CLIENT', 'LIST')),
   0, 'no subscriber before anything is waited for');

# a change wakes a waiter

put_message('SM1');
my $poll = long_poll('SM1');
my ($sub) = subscribers(1);
ok($sub, 'the first long-poll connects the subscriber');
ok(waiting($poll), 'the long-poll waits');

status_set('SM1', 3);
my ($code, $status, $took) = answer($poll);
is("$code $status", '200 delivered', 'a published change wakes the waiter');
ok($took < 5, 'at once, not at the end of its wait') or diag("took $took s");

# cut off: the new subscription makes the waiter look again

put_message('SM2');
$poll = long_poll('SM2');
ok(waiting($poll), 'a second long-poll waits');

# a change nobody announces, then the subscriber is cut off

redis('HSET', 'otp:m:{SM2}', 'status', 'failed');
is(redis('CLIENT', 'KILL', 'TYPE', 'pubsub'), 1, 'the subscriber is killed');

my ($sub2) = subscribers(1, $sub);
ok($sub2, 'the subscriber reconnects by itself');

($code, $status, $took) = answer($poll);
is("$code $status", '200 failed',
   'its new subscription makes the waiter look again: the change it never '
   . 'heard is seen');
ok($took < 10, 'before the end of the wait') or diag("took $took s");

# and hears the changes that follow

put_message('SM3');
$poll = long_poll('SM3');
ok(waiting($poll), 'a third long-poll waits');
redis('CLIENT', 'KILL', 'TYPE', 'pubsub');
ok(subscribers(1, $sub2), 'killed again, the subscriber reconnects');
status_set('SM3', 3);
($code, $status) = answer($poll);
is("$code $status", '200 delivered',
   'after a reconnect, a later change still wakes the waiter');

# Redis restarted: the subscriber comes back without a new watch()

$t->restart_redis;
ok(subscribers(1), 'the subscriber reconnects after Redis restarted');

# the store's own connection comes back on its backoff, and until then a
# status read is 503 (fail closed): wait for it before the long-poll
my $deadline = time + 10;
sleep 0.1 while $t->get('/otp/status/SM0')->{status} == 503
                && time < $deadline;
is($t->get('/otp/status/SM0')->{status}, 404,
   'the store connection is back after Redis restarted');

put_message('SM4');
$poll = long_poll('SM4');
ok(waiting($poll), 'a long-poll waits on the restarted Redis');
status_set('SM4', 6);
($code, $status) = answer($poll);
is("$code $status", '200 failed', 'and is woken by a change');

like($t->read_file('error.log'),
     qr/otp redis subscriber: connection to "[^"]+" lost/,
     'the lost subscriber connection is logged');

$t->done;

###############################################################################
