#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# GET /otp/status/{id}?wait=N held until the status turns terminal, both
# stores: a long-poll answers within a second of the signed callback that
# ends it; across two nginx instances on one Redis (the callback received
# by one wakes the waiter of the other); 2000 long-polls held by one
# worker while /otp/verify and a plain status lookup still answer at once,
# and all 2000 answered by the callbacks of their messages; a client that
# leaves mid-wait frees its waiter then, not when the wait would end; a
# reload answers the old worker's waiters instead of holding it 30 s.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Time::HiRes qw(time sleep);
use OtpTest;
use OtpStatus;
use MockProvider;

###############################################################################

my $t = OtpTest->new;

my $MANY = 2000;
my $IDS = 20;

# and the second instance's own log checks
$t->plan(10 * $t->stores + ((grep { $_ eq 'redis' } $t->stores)
                           ? 2 + OtpTest::IMPLICIT_TESTS : 0));

my $mock = MockProvider->new(dir => $t->dir);

my $AC = 'ACa1b2c3d4e5f60718293a4b5c6d7e8f90';
my $TOKEN = 'tok1c0ffee5ecret0ddba11deadbeefab';

my $conf = <<'EOF';

%%GLOBALS%%
worker_processes 1;
worker_rlimit_nofile 10000;

events {
    worker_connections 5000;
}

http {
    %%HTTP_GLOBALS%%

    %%STORE%%
    otp_secret_file %%SECRET%%;

    otp_provider tw twilio account_sid=@AC@ auth_token=@TOKEN@
                 from=+15005550006 base_url=@MOCK@;

    server {
        listen 127.0.0.1:%%PORT%% backlog=4096;

        otp_public_url http://127.0.0.1:%%PORT%%;
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

        location = /hooks/tw {
            otp_webhook tw;
        }
    }
}

EOF

$conf =~ s/\@AC\@/$AC/g;
$conf =~ s/\@TOKEN\@/$TOKEN/g;
$conf =~ s/\@MOCK\@/$mock->url/ge;

my $n = 0;

sub send_sms {
    my ($h) = @_;
    my $phone = sprintf('+1555010%04d', ++$n);
    my $r = ($h || $t)->post_form('/otp/send', { phone => $phone });
    return $r->{json} ? $r->{json}{message_id} : undef;
}

sub report {
    my ($sid, $status, $h) = @_;
    return twilio_report($h || $t, '/hooks/tw', $TOKEN, MessageSid => $sid,
                         MessageStatus => $status, AccountSid => $AC);
}

# the registry's count, as its debug line says it when a waiter comes or
# goes: "otp wait: waiter ... added ..., N waiters on M ids"
sub waiters {
    my ($h, $want, $timeout) = @_;

    my $deadline = time + ($timeout // 10);
    my $last;

    while (1) {
        my @n = ($h || $t)->read_file('error.log')
                =~ /otp wait: waiter \S+ (?:added to node \S+|removed), (\d+) waiters/g;
        $last = $n[-1] // 0;
        return $last if $last == $want || time > $deadline;
        sleep 0.05;
    }
}

for my $store ($t->stores) {
    $t->write_config($conf, store => $store)->run;

    # one long-poll, ended by a callback

    my $sid = send_sms();
    my $h = poll_start($t, "/otp/status/$sid?wait=20");
    waiters($t, 1);
    sleep 0.5;

    my $sent = time;
    is(report($sid, 'delivered')->{status}, 200, "$store: callback");

    my $r = poll_finish($h, 25);
    my $late = time - $sent;
    ok($r->{status} == 200 && $r->{json}{status} eq 'delivered'
       && $late < 1, "$store: the long-poll answers within 1 s of it")
        or diag("status $r->{status}, $late s after the callback");

    # a status that is not terminal does not end the wait

    my $sid2 = send_sms();
    $h = poll_start($t, "/otp/status/$sid2?wait=3");
    waiters($t, 1);
    report($sid2, 'sent');
    $r = poll_finish($h, 10);
    ok($r->{status} == 200 && $r->{json}{status} eq 'sent'
       && $r->{elapsed} > 2.5, "$store: sent does not end it; the wait "
       . "ends with the status as it is")
        or diag("status $r->{status} after $r->{elapsed} s: $r->{body}");

    # a client that leaves mid-wait frees its waiter at once

    $h = poll_start($t, "/otp/status/$sid2?wait=30");
    is(waiters($t, 1), 1, "$store: one waiter");
    my $off = length $t->read_file('error.log');
    close $h->{sock};
    is(waiters($t, 0, 2), 0, "$store: a client gone, no waiter left");
    like(substr($t->read_file('error.log'), $off),
         qr/otp status request gone: cancel op 0+, waiter [0-9a-fx]+/,
         "$store: freed by its request's cleanup");

    # a graceful shutdown (reload) answers the old worker's waiters

    $h = poll_start($t, "/otp/status/$sid2?wait=30");
    waiters($t, 1);
    $t->reload;
    $r = poll_finish($h, 10);
    ok($r->{status} == 200 && $r->{json}{status} eq 'sent'
       && $r->{elapsed} < 5,
       "$store: a reload answers a waiter of the old worker at once")
        or diag("status $r->{status} after $r->{elapsed} s");

    # many held by one worker

    my @sids = map { send_sms() } 1 .. $IDS;
    my @socks;

    for my $i (0 .. $IDS - 1) {
        push @socks, poll_many($t, "/otp/status/$sids[$i]?wait=30",
                               $MANY / $IDS);
    }

    is(waiters($t, $MANY, 30), $MANY, "$store: $MANY long-polls held");

    my $start = time;
    my $v = $t->post_form('/otp/verify', { phone => '+15550109999',
                                           code => '000000' });
    my $s = $t->get("/otp/status/$sids[0]");
    my $took = time - $start;

    ok($v->{status} >= 400 && $v->{status} < 500 && $s->{status} == 200
       && $took < 1,
       "$store: verify and a status lookup answer at once meanwhile")
        or diag("verify $v->{status}, status $s->{status}, $took s");

    report($_, 'delivered') for @sids;

    is(poll_answered(\@socks, 20), $MANY,
       "$store: all $MANY answered 200 by their callbacks");

    $t->stop;
}

# two instances on one Redis: a callback received by one wakes the
# waiter of the other

if (grep { $_ eq 'redis' } $t->stores) {
    my $t2 = OtpTest->new->share_store_with($t);

    $t->write_config($conf, store => 'redis')->run;
    $t2->write_config($conf, store => 'redis')->run;

    my $sid = send_sms($t);
    my $h = poll_start($t2, "/otp/status/$sid?wait=20");
    waiters($t2, 1);
    sleep 0.5;

    my $sent = time;
    report($sid, 'failed', $t);

    my $r = poll_finish($h, 25);
    my $late = time - $sent;
    ok($r->{status} == 200 && $r->{json}{status} eq 'failed' && $late < 1,
       'redis: a callback to one instance wakes the other\'s waiter')
        or diag("status $r->{status}, $late s after the callback");

    # and the other's waiters are its own: none left behind
    is(waiters($t2, 0, 2), 0, 'redis: the other instance\'s waiter gone');

    $t2->stop;
    $t2->check_log;
    $t->stop;
}

$mock->stop;
$t->done;
