#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# GET /otp/status/{message_id} (API.md, "Delivery status"), both stores:
# the record of a message a provider took (status, channel, provider,
# error_code null or a number, updated_at in RFC 3339 UTC), as Twilio's
# signed status callbacks move it; 404 not_found for an unknown id, and
# for an id no provider could have given without asking the store; 405
# for another method; ?wait=0 answers at once, a wait over 30 or not a
# number is 400 invalid_request; ?wait=N on a status that is not terminal
# answers after about N seconds with the status as it is, and at once on
# a terminal one; HEAD; HTTP/2.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use OtpTest;
use OtpStatus;
use MockProvider;

###############################################################################

my $t = OtpTest->new;

sub have { grep { -x "$_/$_[0]" } split /:/, $ENV{PATH} // '' }

my $h2 = have('nghttp');

$t->plan(22 * $t->stores);

my $mock = MockProvider->new(dir => $t->dir);

my $AC = 'ACa1b2c3d4e5f60718293a4b5c6d7e8f90';
my $TOKEN = 'tok1c0ffee5ecret0ddba11deadbeefab';

my $conf = <<'EOF';

%%GLOBALS%%
worker_processes 1;

events {
}

http {
    %%HTTP_GLOBALS%%

    %%STORE%%
    otp_secret_file %%SECRET%%;

    otp_provider tw twilio account_sid=@AC@ auth_token=@TOKEN@
                 from=+15005550006 base_url=@MOCK@;

    server {
        listen 127.0.0.1:%%PORT%%;
        listen 127.0.0.1:%%PORT2%% http2;

        otp_public_url http://127.0.0.1:%%PORT%%;
        otp_client_limit off;
        otp_resend_after 0s;

        location = /otp/send {
            otp_send;
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
my $null = sub { !defined $_[0] };

sub send_sms {
    my $phone = sprintf('+1555010%04d', ++$n);
    my $r = $t->post_form('/otp/send', { phone => $phone });
    return $r->{json} ? $r->{json}{message_id} : undef;
}

sub report {
    my ($sid, $status, %more) = @_;
    return twilio_report($t, '/hooks/tw', $TOKEN, MessageSid => $sid,
                         MessageStatus => $status, AccountSid => $AC,
                         %more);
}

sub store_reads {
    my $log = $t->read_file('error.log');
    my @n = $log =~ /otp store: \w+ op 8 start/g;
    return scalar @n;
}

for my $store ($t->stores) {
    $t->write_config($conf, store => $store)->run;

    my $sid = send_sms();
    like($sid, qr/^SM[0-9a-f]{32}$/, "$store: a message sent");

    # the record as the send left it

    my ($r, $h);

    $r = $t->get("/otp/status/$sid");
    response_is($r, 200, {
        message_id => $sid,
        status => 'queued',
        channel => 'sms',
        provider => 'tw',
        error_code => $null,
        updated_at => qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/,
    }, "$store: 200 and the record, queued");
    ok(rfc3339_ok($r->{json}{updated_at}), "$store: updated_at is now, UTC");
    is($r->{headers}{'cache-control'}, 'no-store', "$store: not cached");

    # as callbacks move it, with Twilio's error code as a number

    is(report($sid, 'sent')->{status}, 200, "$store: a sent callback");
    is($t->get("/otp/status/$sid")->{json}{status}, 'sent',
       "$store: sent");

    is(report($sid, 'undelivered', ErrorCode => '30003')->{status}, 200,
       "$store: an undelivered callback");
    response_is($t->get("/otp/status/$sid"), 200, {
        message_id => $sid,
        status => 'undelivered',
        channel => 'sms',
        provider => 'tw',
        error_code => number(30003),
        updated_at => qr/Z$/,
    }, "$store: undelivered, error_code a number");

    # HEAD: the status line and headers only

    $h = poll_start($t, "/otp/status/$sid", method => 'HEAD');
    my $raw = poll_finish($h, 5)->{raw};
    ok($raw =~ m{^HTTP/1\.1 200 .*\r\nContent-Type: application/json.*\r\n\r\n\z}s,
       "$store: HEAD, no body") or diag($raw);

    # unknown, and ids no provider could have given: no store round trip

    response_is($t->get('/otp/status/SM00000000000000000000000000000000'),
                404, { error => 'not_found', message => any_string },
                "$store: an unknown id is 404 not_found");

    my $reads = store_reads();

    my @st = map { $t->get("/otp/status/$_")->{status} }
             ('a%22b', 'a%5Cb', 'a%20b', 'a%09b', 'x' x 129, '%C3%A9');
    is("@st", '404 404 404 404 404 404',
       "$store: ids with quotes, backslashes, spaces, controls, over 128 "
       . "bytes or not ASCII are 404");

    response_is($t->get('/otp/status/'), 404, { error => 'not_found',
                message => any_string }, "$store: no id is 404");
    is(store_reads(), $reads, "$store: bad ids never reach the store");

    # another method

    response_is($t->post_form("/otp/status/$sid", { a => 'b' }), 405,
                { error => 'method_not_allowed', message => any_string },
                "$store: POST is 405", { Allow => 'GET, HEAD' });

    # wait: 0 answers at once; not 0..30 is 400

    $r = $t->get("/otp/status/$sid?wait=0");
    is($r->{json}{status}, 'undelivered', "$store: wait=0 answers");

    my @bad = map { $t->get("/otp/status/$sid?wait=$_")->{status} }
              (31, 100, -1, 'abc', '', '1.5', ' 1');
    is("@bad", '400 400 400 400 400 400 400',
       "$store: wait over 30, negative, empty or not a number is 400");
    response_is($t->get("/otp/status/$sid?wait=31"), 400,
                { error => 'invalid_request', message => any_string },
                "$store: the 400 is invalid_request");

    # wait on a terminal status: at once

    $h = poll_start($t, "/otp/status/$sid?wait=10");
    $r = poll_finish($h, 15);
    ok($r->{status} == 200 && $r->{elapsed} < 1,
       "$store: wait on a terminal status answers at once")
        or diag("status $r->{status} after $r->{elapsed} s");

    # wait on a status that does not change: N seconds, then the status

    my $sid2 = send_sms();
    $h = poll_start($t, "/otp/status/$sid2?wait=2");
    $r = poll_finish($h, 15);
    ok($r->{status} == 200 && $r->{json} && $r->{json}{status} eq 'queued'
       && $r->{elapsed} > 1.8 && $r->{elapsed} < 4,
       "$store: wait=2 without a change answers queued after 2 s")
        or diag("status $r->{status} after $r->{elapsed} s: $r->{body}");

    # wait on an unknown id: 404 at once

    $h = poll_start($t, '/otp/status/SMffffffffffffffffffffffffffffffff?wait=5');
    $r = poll_finish($h, 10);
    ok($r->{status} == 404 && $r->{elapsed} < 1,
       "$store: wait on an unknown id is 404 at once");

    # a wait ended by a callback (t/49-longpoll.t has more)

    $h = poll_start($t, "/otp/status/$sid2?wait=20");
    sleep 0.3;
    report($sid2, 'delivered');
    $r = poll_finish($h, 25);
    ok($r->{status} == 200 && $r->{json}{status} eq 'delivered'
       && $r->{elapsed} < 2,
       "$store: wait answers when delivered")
        or diag("status $r->{status} after $r->{elapsed} s");

    # HTTP/2

    SKIP: {
        skip 'no nghttp (nghttp2-client)', 1 unless $h2;

        $r = $t->get("/otp/status/$sid2", h2 => 1,
                     port => $t->port('PORT2'));
        response_is($r, 200, {
            message_id => $sid2,
            status => 'delivered',
            channel => 'sms',
            provider => 'tw',
            error_code => $null,
            updated_at => qr/Z$/,
        }, "$store: over HTTP/2");
    }

    $t->stop;
}

$mock->stop;
$t->done;
