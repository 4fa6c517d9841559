#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# Bad input (API.md: 400 invalid_request / invalid_phone): empty and huge
# bodies, invalid JSON, fields that are not strings or come twice, NUL
# bytes, wrong or missing content types.  Each is a 400 with the JSON error
# body, never a 5xx, and stores nothing: the number it named has no code
# (verify 410) and can be sent a code at once (202, while a send that had
# counted would be 429 under otp_send_limit 1 and otp_resend_after 30s).
# Both stores.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use OtpTest;

###############################################################################

my $t = OtpTest->new;

my @cases;    # [ name, error, request sub, phone ]

$t->plan(3 * 30 * $t->stores + 6 * $t->stores);

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

    # each case is a client of its own, by X-Forwarded-For
    set_real_ip_from 127.0.0.1;
    real_ip_header X-Forwarded-For;

    server {
        listen 127.0.0.1:%%PORT%%;

        otp_client_limit 1/1h;
        otp_send_limit 1/15m;
        otp_resend_after 30s;

        location = /otp/send {
            otp_send;
        }

        # the client limit counts nothing for the checks below
        location = /otp/send/check {
            otp_client_limit off;
            otp_send;
        }

        location = /otp/verify {
            otp_verify;
        }
    }
}

EOF

my $form = 'application/x-www-form-urlencoded';
my $json = 'application/json';

# Each case: its name, the error code, and a request that names $phone.
# Every case gets its own number and its own client address.

sub case {
    my ($name, $error, $request) = @_;
    push @cases, [ $name, $error, $request ];
}

# empty bodies

case('empty form body', 'invalid_request', sub {
    my ($p) = @_;
    $t->post('/otp/send', $form, '', @_[1 .. $#_]);
});

case('empty JSON body', 'invalid_request', sub {
    $t->post('/otp/send', $json, '', @_[1 .. $#_]);
});

case('a body of white space', 'invalid_request', sub {
    $t->post('/otp/send', $json, "  \r\n ", @_[1 .. $#_]);
});

# too large: over otp_body_limit (4k), whether announced or chunked

case('a 1 MB form body', 'invalid_request', sub {
    my ($p, @opts) = @_;
    my $body = 'phone=' . esc($p) . '&pad=' . ('x' x (1048576 - 30));
    $body = substr($body, 0, 1048576);
    $t->post('/otp/send', $form, $body, @opts);
});

case('a 1 MB JSON body', 'invalid_request', sub {
    my ($p, @opts) = @_;
    my $body = qq({"phone":"$p","pad":") . ('x' x 1048576);
    $body = substr($body, 0, 1048576 - 2) . '"}';
    $t->post('/otp/send', $json, $body, @opts);
});

case('a 5k body', 'invalid_request', sub {
    my ($p, @opts) = @_;
    $t->post('/otp/send', $form, 'phone=' . esc($p) . '&pad=' . ('x' x 5000),
             @opts);
});

case('a 1 MB chunked body', 'invalid_request', sub {
    my ($p, %opts) = @_;
    chunked($p, 1048576, %opts);
});

# over client_max_body_size (1m) as well: still the module's 400, in JSON
# (README: "a larger one is answered 400 invalid_request")

case('a 2 MB form body', 'invalid_request', sub {
    my ($p, @opts) = @_;
    my $body = 'phone=' . esc($p) . '&pad=' . ('x' x 2097152);
    $t->post('/otp/send', $form, $body, @opts);
});

case('a 2 MB chunked body', 'invalid_request', sub {
    my ($p, %opts) = @_;
    chunked($p, 2097152, %opts);
});

sub chunked {
    my ($p, $size, %opts) = @_;

    my $body = 'phone=' . esc($p) . '&pad=';
    $body .= 'x' x ($size - length $body);

    my $chunked = '';
    while (length $body) {
        my $chunk = substr($body, 0, 65536, '');
        $chunked .= sprintf("%x\r\n%s\r\n", length $chunk, $chunk);
    }
    $chunked .= "0\r\n\r\n";

    return $t->raw("POST /otp/send HTTP/1.1\r\nHost: localhost\r\n"
                   . "Connection: close\r\nContent-Type: $form\r\n"
                   . "X-Forwarded-For: $opts{headers}{'X-Forwarded-For'}\r\n"
                   . "Transfer-Encoding: chunked\r\n\r\n$chunked");
}

# not JSON, or not a JSON object of strings

case('JSON cut short', 'invalid_request', sub {
    my ($p, @opts) = @_;
    $t->post_json('/otp/send', qq({"phone": "$p"), @opts);
});

case('JSON with a trailing comma', 'invalid_request', sub {
    my ($p, @opts) = @_;
    $t->post_json('/otp/send', qq({"phone": "$p",}), @opts);
});

case('JSON followed by garbage', 'invalid_request', sub {
    my ($p, @opts) = @_;
    $t->post_json('/otp/send', qq({"phone": "$p"} x), @opts);
});

case('a JSON array', 'invalid_request', sub {
    my ($p, @opts) = @_;
    $t->post_json('/otp/send', qq(["$p"]), @opts);
});

case('a JSON string', 'invalid_request', sub {
    my ($p, @opts) = @_;
    $t->post_json('/otp/send', qq("$p"), @opts);
});

case('the phone as a JSON number', 'invalid_request', sub {
    my ($p, @opts) = @_;
    (my $digits = $p) =~ s/\D//g;
    $t->post_json('/otp/send', qq({"phone": $digits}), @opts);
});

case('the phone as a JSON array', 'invalid_request', sub {
    my ($p, @opts) = @_;
    $t->post_json('/otp/send', qq({"phone": ["$p"]}), @opts);
});

case('the phone twice in JSON', 'invalid_request', sub {
    my ($p, @opts) = @_;
    $t->post_json('/otp/send', qq({"phone": "$p", "phone": "$p"}), @opts);
});

case('the phone twice in a form', 'invalid_request', sub {
    my ($p, @opts) = @_;
    $t->post('/otp/send', $form, 'phone=' . esc($p) . '&phone=' . esc($p),
             @opts);
});

case('a bad escape in a form', 'invalid_request', sub {
    my ($p, @opts) = @_;
    $t->post('/otp/send', $form, 'phone=' . esc($p) . '&channel=sm%zz',
             @opts);
});

case('a phone of 200 digits', 'invalid_phone', sub {
    my ($p, @opts) = @_;
    $t->post_json('/otp/send', { phone => $p . ('5' x 188) }, @opts);
});

# NUL bytes

case('%00 in the form phone', 'invalid_phone', sub {
    my ($p, @opts) = @_;
    $t->post('/otp/send', $form, 'phone=' . esc($p) . '%00', @opts);
});

case('%00 inside the form phone', 'invalid_phone', sub {
    my ($p, @opts) = @_;
    (my $q = esc($p)) =~ s/^(.{6})/$1%00/;
    $t->post('/otp/send', $form, "phone=$q", @opts);
});

case('a raw NUL in the form phone', 'invalid_phone', sub {
    my ($p, @opts) = @_;
    $t->post('/otp/send', $form, 'phone=' . esc($p) . "\0", @opts);
});

case('\u0000 in the JSON phone', 'invalid_phone', sub {
    my ($p, @opts) = @_;
    $t->post_json('/otp/send', qq({"phone": "$p\\u0000"}), @opts);
});

case('a raw NUL in JSON', 'invalid_request', sub {
    my ($p, @opts) = @_;
    $t->post_json('/otp/send', qq({"phone": "$p"}\0), @opts);
});

# content types

case('text/plain', 'invalid_request', sub {
    my ($p, @opts) = @_;
    $t->post('/otp/send', 'text/plain', 'phone=' . esc($p), @opts);
});

case('no content type', 'invalid_request', sub {
    my ($p, @opts) = @_;
    $t->post('/otp/send', undef, 'phone=' . esc($p), @opts);
});

case('multipart/form-data', 'invalid_request', sub {
    my ($p, @opts) = @_;
    my $b = "--x\r\nContent-Disposition: form-data; name=\"phone\"\r\n\r\n"
            . "$p\r\n--x--\r\n";
    $t->post('/otp/send', 'multipart/form-data; boundary=x', $b, @opts);
});

case('a JSON body sent as a form', 'invalid_request', sub {
    my ($p, @opts) = @_;
    $t->post('/otp/send', $form, qq({"phone":"$p"}), @opts);
});

case('application/jsonx', 'invalid_request', sub {
    my ($p, @opts) = @_;
    $t->post('/otp/send', 'application/jsonx', qq({"phone":"$p"}), @opts);
});

sub esc {
    my ($s) = @_;
    $s =~ s/([^A-Za-z0-9\-._~])/sprintf('%%%02X', ord $1)/ge;
    return $s;
}

###############################################################################

for my $store ($t->stores) {

$t->write_config($conf, store => $store)->run;

my $n = 0;

for my $case (@cases) {
    my ($name, $error, $request) = @$case;

    $n++;

    my $phone = sprintf('+155501800%02d', $n);
    my $client = { 'X-Forwarded-For' => "192.0.2.$n" };

    $t->uses_phone($phone);

    my $r = $request->($phone, headers => $client);

    response_is($r, 400, { error => $error, message => any_string },
                "$store: $name: 400 $error");

    # nothing was stored: no code, no cooldown, no count in either window

    $r = $t->post_form('/otp/verify', { phone => $phone, code => '123456' });
    is($r->{status}, 410, "$store: $name: no code stored");

    $r = $t->post_form('/otp/send', { phone => $phone }, headers => $client);
    is($r->{status}, 202, "$store: $name: a send right after 202");
}

# the checks above would see a stored code: they are not vacuous

my $client = { headers => { 'X-Forwarded-For' => '198.51.100.1' } };
my $r = $t->post_form('/otp/send', { phone => '+15550189901' }, %$client);
is($r->{status}, 202, "$store: control: send 202");

$r = $t->post_form('/otp/verify', { phone => '+15550189901', code => '12345' });
isnt($r->{status}, 410, "$store: control: verify sees the code");

$r = $t->post_form('/otp/send/check', { phone => '+15550189901' });
is($r->{status}, 429, "$store: control: a second send 429");

$r = $t->post_form('/otp/send', { phone => '+15550189902' }, %$client);
is($r->{status}, 429, "$store: control: the client window counted");

# application/json with parameters is JSON

$r = $t->post('/otp/send', 'application/json; charset=utf-8',
              '{"phone":"+15550189903"}',
              headers => { 'X-Forwarded-For' => '198.51.100.2' });
$t->uses_phone('+15550189903');
is($r->{status}, 202, "$store: application/json; charset=utf-8 202");

# GET is not a send

$r = $t->get('/otp/send');
response_is($r, 405, { error => 'method_not_allowed', message => any_string },
            "$store: GET 405", { Allow => 'POST' });

$t->stop;

}

$t->done;

###############################################################################
