#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# The africastalking provider against a mock of Africa's Talking's SMS API
# (t/lib/MockProvider.pm): POST /version1/messaging with the apiKey header,
# Accept: application/json and the form fields username, to, message, from
# in that order (from only when set), UTF-8 text percent-encoded; the code
# in the message verifies; a recipient with statusCode 101 or 102 is a
# success whose messageId is the 202's message_id; a recipient refused
# (403 InvalidPhoneNumber), no recipient at all (InvalidSenderId) and a
# plain-text 401 end in 502 with Africa's Talking's words; no log line holds
# the code or the API key.

###############################################################################

use warnings;
use strict;
use utf8;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use JSON::PP;
use OtpTest;
use MockProvider qw(form_pairs form_hash mask leaks log_lines);

###############################################################################

my $t = OtpTest->new;

$t->plan(20);

my $mock = MockProvider->new(dir => $t->dir);

my $KEY = 'atsk_3f9c1b2a7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8';
my $KEY2 = 'atsk_sandbox0123abcdefSANDBOXkey9876';

$t->write_file('at.key', "$KEY2\n", 0600);

my $conf = <<'EOF';

%%GLOBALS%%
worker_processes 1;

events {
}

http {
    %%HTTP_GLOBALS%%

    %%STORE%%
    otp_secret_file %%SECRET%%;

    otp_provider at africastalking username=acme_prod api_key=@KEY@
                 from=ACME base_url=@MOCK@;

    otp_provider at_sbx africastalking username=sandbox
                 api_key_file=%%PREFIX%%/at.key base_url=@MOCK@;

    otp_route sms +255 at_sbx;
    otp_route sms default at;

    server {
        listen 127.0.0.1:%%PORT%%;

        otp_client_limit off;

        location = /otp/send {
            otp_send;
        }

        location = /otp/send/sw {
            otp_message sms sw "Msimbo wa Acme: $code — usiushiriki.";
            otp_default_locale sw;
            otp_send;
        }

        location = /otp/verify {
            otp_verify;
        }
    }
}

EOF

my %subst = (MOCK => $mock->url, KEY => $KEY);
$conf =~ s/@(\w+)@/$subst{$1}/g;
utf8::encode($conf);

$t->write_config($conf)->run;

###############################################################################

my @codes;

sub esc {
    my ($s) = @_;
    utf8::encode($s);
    $s =~ s/([^A-Za-z0-9\-._~])/sprintf('%%%02X', ord $1)/ge;
    return $s;
}

sub send_one {
    my ($fields, $path) = @_;

    my $before = scalar $mock->requests;
    my $r = $t->post_form($path // '/otp/send', $fields);
    my @req = $mock->requests;

    return ($r, @req[$before .. $#req]);
}

sub id_of {
    my ($req) = @_;
    my $a = eval { decode_json($req->{answer}{body}) } || {};
    return eval { $a->{SMSMessageData}{Recipients}[0]{messageId} } // '';
}

sub code_of {
    my ($req) = @_;
    my %f = form_hash($req->{body} // '');
    my ($c) = ($f{message} // '') =~ /\b(\d{6})\b/;
    return $c;
}

my $TEXT = 'Your verification code is %s. Valid for 5 minutes. Do not share it.';

###############################################################################

# the exact request

my ($r, $req, @more) = send_one({ phone => '+254711000001' });

response_is($r, 202, {
    status => 'pending',
    message_id => id_of($req // {}),
    channel => 'sms',
    provider => 'at',
    expires_in => number(300),
    resend_after => number(30),
}, 'at: 202 with the messageId Africa\'s Talking answered');

like(id_of($req // {}), qr/^ATXid_[0-9a-f]{32}$/, 'at: the mock\'s messageId');
ok($req && !@more, 'at: one request');

is($req && "$req->{method} $req->{path}", 'POST /version1/messaging',
   'at: POST /version1/messaging');

is($req && join(' | ', $req->{headers}{apikey} // 'none',
                $req->{headers}{accept} // 'none',
                $req->{headers}{authorization} // 'none'),
   "$KEY | application/json | none",
   'at: apiKey header, Accept: application/json, no Authorization');

like($req && $req->{headers}{'content-type'},
     qr{^application/x-www-form-urlencoded(; ?charset=utf-8)?$}i,
     'at: a form body');

my $code = code_of($req // {});
push @codes, $code;

is($req && $req->{body},
   'username=acme_prod&to=%2B254711000001&message='
   . esc(sprintf $TEXT, $code // 'CODE') . '&from=ACME',
   'at: username, to, message, from exactly, all escaped');

$r = $t->post_form('/otp/verify', { phone => '+254711000001', code => $code });
is($r->{status}, 200, 'at: the code in the message verifies');

# api_key_file, no from, UTF-8 text

($r, $req) = send_one({ phone => '+255754000002' }, '/otp/send/sw');

is($r->{status} . ' ' . ($r->{json} ? $r->{json}{provider} : ''),
   '202 at_sbx', 'sandbox: 202 from at_sbx');

$code = code_of($req // {});
push @codes, $code;

is($req && join(' ', $req->{headers}{apikey} // 'none', $req->{body}),
   "$KEY2 username=sandbox&to=%2B255754000002&message="
   . esc('Msimbo wa Acme: ' . ($code // 'CODE') . ' — usiushiriki.'),
   'sandbox: the key from the file, no from, UTF-8 sent as %XX');

# 102 Queued is a success too

$mock->on(qr{^/version1/messaging$} => { status => 201, body => {
    SMSMessageData => {
        Message => 'Sent to 1/1 Total Cost: KES 0.8000',
        Recipients => [ { statusCode => 102, number => '+254711000003',
                          status => 'Queued', cost => 'KES 0.8000',
                          messageId => 'ATXid_queued0000000000000000000001' } ],
    },
} });

($r, $req) = send_one({ phone => '+254711000003' });
push @codes, code_of($req // {});

is($r->{status} . ' ' . ($r->{json} ? $r->{json}{message_id} : ''),
   '202 ATXid_queued0000000000000000000001', '102 Queued: 202 with its id');

# a recipient refused: 403 InvalidPhoneNumber

$mock->on(qr{^/version1/messaging$} => { status => 201, body => {
    SMSMessageData => {
        Message => 'Sent to 0/1 Total Cost: 0',
        Recipients => [ { cost => '0', messageId => 'None',
                          number => '+254711000004',
                          status => 'InvalidPhoneNumber',
                          statusCode => 403 } ],
    },
} });

($r, $req) = send_one({ phone => '+254711000004' });
push @codes, code_of($req // {});

response_is($r, 502, {
    error => 'delivery_failed',
    message => any_string,
    attempts => [ { channel => 'sms', provider => 'at', error => 'rejected',
                    provider_code => 403 } ],
}, '403 InvalidPhoneNumber: 502 rejected, with the recipient\'s code');

is(scalar(grep { /\[warn\].*otp provider "at" failed to deliver to \Q${\ mask('+254711000004')}\E via sms: rejected, HTTP 201, africastalking code 403: "InvalidPhoneNumber" while / }
          log_lines($t, qr/failed to deliver/)),
   1, '403 InvalidPhoneNumber: logged once, with the recipient\'s status');

# nobody to send to: the Message says why

$mock->on(qr{^/version1/messaging$} => { status => 201, body => {
    SMSMessageData => { Message => 'InvalidSenderId', Recipients => [] },
} });

($r, $req) = send_one({ phone => '+254711000005' });
push @codes, code_of($req // {});

is($r->{json} && $r->{json}{attempts} && $r->{json}{attempts}[0]{error},
   'rejected', 'no recipient: 502 rejected');

is(scalar(grep { /via sms: rejected, HTTP 201: "InvalidSenderId"/ }
          log_lines($t, qr/\Q${\ mask('+254711000005')}\E/)),
   1, 'no recipient: the Message logged');

# a wrong key: 401 in plain text

$mock->on(qr{^/version1/messaging$} => {
    status => 401, content_type => 'text/plain',
    body => 'The supplied authentication is invalid' });

($r, $req) = send_one({ phone => '+254711000006' });
push @codes, code_of($req // {});

is($r->{status} . ' ' . ($r->{json} && $r->{json}{attempts}
                         ? $r->{json}{attempts}[0]{error} : ''),
   '502 auth_failed', '401: 502 auth_failed');

is(scalar(grep { /via sms: auth_failed, HTTP 401: "The supplied authentication is invalid"/ }
          log_lines($t, qr/\Q${\ mask('+254711000006')}\E/)),
   1, '401: the text logged');

# a success status that is not JSON

$mock->on(qr{^/version1/messaging$} => { status => 201, malformed_json => 1 });

($r, $req) = send_one({ phone => '+254711000007' });
push @codes, code_of($req // {});

is($r->{json} && $r->{json}{attempts} && $r->{json}{attempts}[0]{error},
   'bad_response', 'cut JSON: bad_response');

$mock->reset;

###############################################################################

$t->stop;

@codes = grep { defined } @codes;

my @leak = leaks($t, @codes);
ok(@codes >= 6 && !@leak, 'no code in error.log or access.log ('
   . scalar(@codes) . ' codes)') or diag(join "\n", @leak[0 .. ($#leak > 9 ? 9 : $#leak)]);

@leak = leaks($t, $KEY, $KEY2);
ok(!@leak, 'no API key in error.log or access.log')
    or diag(join "\n", @leak[0 .. ($#leak > 9 ? 9 : $#leak)]);

$mock->stop;
$t->done;

###############################################################################
