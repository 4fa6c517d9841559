#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# Send and verify over HTTP/2 (cleartext, prior knowledge), where nginx
# reads a request body its own way (DATA frames, a body that may announce
# no length, the size limit checked frame by frame): form and JSON bodies,
# a body that arrives slowly in several frames, a wrong code, a body over
# the module's limit and one over client_max_body_size, answered as JSON.
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

sub have { grep { -x "$_/$_[0]" } split /:/, $ENV{PATH} // '' }

plan(skip_all => 'no nghttp (nghttp2-client)') unless have('nghttp');
plan(skip_all => 'no curl with HTTP/2')
    unless have('curl') && `curl -V 2>&1` =~ /\bHTTP2\b/;

$t->plan(15 * $t->stores);

my $conf = <<'EOF';

%%GLOBALS%%
worker_processes 1;

events {
}

http {
    %%HTTP_GLOBALS%%

    %%STORE%%
    otp_secret_file %%SECRET%%;
    otp_token_key_file %%TOKEN_KEY%% test-1;
    otp_provider dev log;

    server {
        listen 127.0.0.1:%%PORT%% http2;

        otp_client_limit off;
        otp_resend_after 0s;

        location = /otp/send {
            otp_max_attempts 3;
            otp_send;
        }

        location = /otp/send/small {
            client_max_body_size 1k;
            otp_send;
        }

        location = /otp/verify {
            otp_verify;
        }
    }
}

EOF

my %h2 = (h2 => 1);
my $form = 'application/x-www-form-urlencoded';
my $json = 'application/json';

sub pending {
    my ($r, $name) = @_;

    response_is($r, 202, {
        status => 'pending',
        message_id => qr/^log_[0-9a-f]{32}$/,
        channel => 'sms',
        provider => 'dev',
        expires_in => number(300),
        resend_after => number(0),
    }, $name);
}

sub verified {
    my ($r, $name) = @_;

    response_is($r, 200, {
        verified => true,
        token => qr/^[\w-]+\.[\w-]+\.[\w-]+$/,
    }, $name);
}

sub too_large {
    my ($r, $name) = @_;

    response_is($r, 400, {
        error => 'invalid_request',
        message => any_string,
    }, $name);
}

###############################################################################

for my $store ($t->stores) {

$t->write_config($conf, store => $store)->run;

my ($r, $code);

# a form body

($r, $code) = $t->send_code('/otp/send', { phone => '+15550125001' }, %h2);

pending($r, "$store: h2: send, a form body: 202");
is($r->{http_version}, '2', "$store: h2: the answer came over HTTP/2");
like($code // '', qr/^\d{6}$/, "$store: h2: the provider got a code");

# a JSON body, the right code

$r = $t->post_json('/otp/verify', { phone => '+15550125001', code => $code },
                   %h2);
verified($r, "$store: h2: verify, a JSON body: 200 with a token");

# a JSON send, a wrong code, then the right one

$r = $t->post_json('/otp/send', { phone => '+15550125002' }, %h2);
pending($r, "$store: h2: send, a JSON body: 202");
$code = $t->code_for($r->{json}{message_id}) // '000000';

my $wrong = sprintf('%06d', ($code + 1) % 1000000);

$r = $t->post_form('/otp/verify', { phone => '+15550125002', code => $wrong },
                   %h2);
response_is($r, 401, {
    error => 'invalid_code',
    message => any_string,
    attempts_remaining => number(2),
}, "$store: h2: a wrong code: 401 invalid_code");

$r = $t->post_form('/otp/verify', { phone => '+15550125002', code => $code },
                   %h2);
verified($r, "$store: h2: then the right code: 200");

# a body in three DATA frames, 0.2 s apart, with no length announced

$t->uses_phone('+15550125003');

$r = $t->post('/otp/send', $form, undef, %h2,
              parts => [ 'phone=%2B155', '501', '25003' ]);
pending($r, "$store: h2: send, a slow body in three frames: 202");
$code = $r->{json} ? $t->code_for($r->{json}{message_id}) : undef;
like($code // '', qr/^\d{6}$/, "$store: h2: and its code was sent");

$t->{guesses}{$code} = 1 if defined $code;

$r = $t->post('/otp/verify', $json, undef, %h2,
              parts => [ '{"phone":"+1555012', '5003","co',
                         'de":"' . ($code // '') . '"}' ]);
verified($r, "$store: h2: verify, a slow JSON body in three frames: 200");

# too large: over the module's limit (4k), with and without a length

$r = $t->post_form('/otp/send',
                   { phone => '+15550125004', pad => 'x' x 5000 }, %h2);
too_large($r, "$store: h2: a 5k body: the JSON 400");

# ... and with no length announced, 40k in DATA frames (16k at most each)

$r = $t->post_form('/otp/send',
                   { phone => '+15550125005', pad => 'x' x 40000 }, %h2,
                   no_length => 1);
too_large($r, "$store: h2: 40k in frames, no length: the JSON 400");

# over client_max_body_size: nginx's own 413 (from the announced length,
# and from the frames as they come), answered by the filter as JSON

$r = $t->post_form('/otp/send/small',
                   { phone => '+15550125006', pad => 'x' x 2000 }, %h2);
too_large($r, "$store: h2: over client_max_body_size: the JSON 400");

$r = $t->post_form('/otp/send/small',
                   { phone => '+15550125007', pad => 'x' x 40000 }, %h2,
                   no_length => 1);
too_large($r, "$store: h2: over client_max_body_size in frames: JSON 400");

# and nginx is fine after all that: a plain send

$r = $t->post_form('/otp/send', { phone => '+15550125008' }, %h2);
pending($r, "$store: h2: a send after the errors: 202");

$t->stop;
}

$t->done;

###############################################################################
