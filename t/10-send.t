#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# Send a code (API.md, "Send a code"): the 202 answer and the 400 answers
# for a bad phone, channel or request, against both stores.  Rate limits
# are in 11-send-limits.t, phone normalisation in 13-phone.t, malformed
# bodies in 18-bad-input.t.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use OtpTest;

###############################################################################

my $t = OtpTest->new;

$t->plan(23 * $t->stores);

my $conf = <<'EOF';

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

        otp_client_limit off;

        # the defaults: sms, 6 digits, 5m, resend after 30s
        location = /otp/send {
            otp_send;
        }

        location = /otp/send/chain {
            otp_channels whatsapp sms voice;
            otp_ttl 2m;
            otp_resend_after 10s;
            otp_send;
        }

        location = /otp/send/digits4 {
            otp_code_length 4;
            otp_send;
        }

        location = /otp/send/digits10 {
            otp_code_length 10;
            otp_send;
        }

        location = /otp/verify {
            otp_verify;
        }
    }
}

EOF

my $message_id = qr/^log_[0-9a-f]{32}$/;

###############################################################################

for my $store ($t->stores) {

$t->write_config($conf, store => $store)->run;

my ($r, $sent);

# 202: a form body, the location's defaults

$r = $t->post_form('/otp/send', { phone => '+15550104567' });

response_is($r, 202, {
    status => 'pending',
    message_id => $message_id,
    channel => 'sms',
    provider => 'dev',
    expires_in => number(300),
    resend_after => number(30),
}, "$store: send: 202 pending with the defaults");

$sent = $t->sent($r->{json}{message_id});

ok($sent && $sent->{code} =~ /^\d{6}$/,
   "$store: send: the provider got a 6-digit code");
is($sent && $sent->{to}, '+1******4567',
   "$store: send: the provider logs the number masked");
is($sent && $sent->{channel}, 'sms', "$store: send: over sms");

# 202: a JSON body says the same

$r = $t->post_json('/otp/send', { phone => '+15550100002' });

response_is($r, 202, {
    status => 'pending',
    message_id => $message_id,
    channel => 'sms',
    provider => 'dev',
    expires_in => number(300),
    resend_after => number(30),
}, "$store: send: 202 for a JSON body");

# 202: no channel or "auto" takes the first of otp_channels; expires_in
# and resend_after are the location's otp_ttl and otp_resend_after

$r = $t->post_form('/otp/send/chain', { phone => '+15550100003' });

response_is($r, 202, {
    status => 'pending',
    message_id => $message_id,
    channel => 'whatsapp',
    provider => 'dev',
    expires_in => number(120),
    resend_after => number(10),
}, "$store: send: no channel is the first of otp_channels");

$r = $t->post_json('/otp/send/chain',
                   { phone => '+15550100004', channel => 'auto' });

response_is($r, 202, {
    status => 'pending',
    message_id => $message_id,
    channel => 'whatsapp',
    provider => 'dev',
    expires_in => number(120),
    resend_after => number(10),
}, "$store: send: auto is the first of otp_channels");

# 202: a channel named in otp_channels is used as asked

$r = $t->post_form('/otp/send/chain',
                   { phone => '+15550100005', channel => 'voice' });

response_is($r, 202, {
    status => 'pending',
    message_id => $message_id,
    channel => 'voice',
    provider => 'dev',
    expires_in => number(120),
    resend_after => number(10),
}, "$store: send: channel=voice");

$sent = $t->sent($r->{json}{message_id});
is($sent && $sent->{channel}, 'voice', "$store: send: the provider got voice");

# otp_code_length

$r = $t->post_form('/otp/send/digits4', { phone => '+15550100006' });
like($t->code_for($r->{json}{message_id}) // '', qr/^\d{4}$/,
     "$store: send: otp_code_length 4");

$r = $t->post_form('/otp/send/digits10', { phone => '+15550100007' });
like($t->code_for($r->{json}{message_id}) // '', qr/^\d{10}$/,
     "$store: send: otp_code_length 10");

# 400 invalid_channel: unknown, or not enabled at this location

$r = $t->post_form('/otp/send', { phone => '+15550100008', channel => 'fax' });

response_is($r, 400, { error => 'invalid_channel', message => any_string },
            "$store: send: 400 invalid_channel for an unknown channel");

$r = $t->post_form('/otp/send',
                   { phone => '+15550100009', channel => 'whatsapp' });

response_is($r, 400, { error => 'invalid_channel', message => any_string },
            "$store: send: 400 invalid_channel for a channel not enabled");

$r = $t->post_form('/otp/send', { phone => '+15550100010', channel => 'SMS' });

response_is($r, 400, { error => 'invalid_channel', message => any_string },
            "$store: send: channel names are lower case");

# 400 invalid_phone

$r = $t->post_form('/otp/send', { phone => 'not a number' });

response_is($r, 400, { error => 'invalid_phone', message => any_string },
            "$store: send: 400 invalid_phone");

$r = $t->post_json('/otp/send', { phone => '' });

response_is($r, 400, { error => 'invalid_phone', message => any_string },
            "$store: send: 400 invalid_phone for an empty phone");

# 400 invalid_request: no phone

$r = $t->post_form('/otp/send', { channel => 'sms' });

response_is($r, 400, { error => 'invalid_request', message => any_string },
            "$store: send: 400 invalid_request without a phone");

# fields the endpoint does not know are ignored

$r = $t->post_json('/otp/send', { phone => '+15550100012', locale => 'en' });
is($r->{status}, 202, "$store: send: unknown fields are ignored");

# a body that arrives in two parts, 0.3 s apart

my $body = 'phone=%2B15550100013';
$r = $t->raw([ "POST /otp/send HTTP/1.1\r\nHost: localhost\r\n"
               . "Connection: close\r\n"
               . "Content-Type: application/x-www-form-urlencoded\r\n"
               . "Content-Length: " . length($body) . "\r\n\r\n"
               . substr($body, 0, 9),
               substr($body, 9) ], delay => 0.3);
$t->uses_phone('+15550100013');
is($r->{status}, 202, "$store: send: a body in two parts 202");

# two requests pipelined on one connection, both answered

my @r = $t->raw(join('', map {
    my $b = "phone=%2B1555010001$_";
    "POST /otp/send HTTP/1.1\r\nHost: localhost\r\n"
    . ($_ == 5 ? "Connection: close\r\n" : '')
    . "Content-Type: application/x-www-form-urlencoded\r\n"
    . "Content-Length: " . length($b) . "\r\n\r\n$b"
} 4, 5), all => 1);
$t->uses_phone('+15550100014', '+15550100015');

is(join(' ', map { $_->{status} } @r), '202 202',
   "$store: send: two pipelined requests, two 202s");
isnt($r[0]{json}{message_id}, $r[-1]{json}{message_id},
     "$store: send: each its own message_id");
ok($t->sent($r[-1]{json}{message_id}), "$store: send: both sent");

# nothing in the response says the code

$r = $t->post_form('/otp/send', { phone => '+15550100011' });
my $code = $t->code_for($r->{json}{message_id});

ok($code && index($r->{raw}, $code) < 0,
   "$store: send: the code is not in the response");

$t->stop;

}

$t->done;

###############################################################################
