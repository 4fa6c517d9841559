#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# OTP endpoints inside ordinary nginx configuration: an "if" block in a
# send location still sends (it runs the same content handler); errors
# other modules answer there (limit_except's 403) keep the JSON shape; an
# error page nginx answers by itself reaches a slow client whole; and a
# secret left on a "log" provider line is never echoed by the error.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use OtpTest;

###############################################################################

my $t = OtpTest->new;

$t->plan(6);

$t->write_config(<<'EOF')->run;

%%GLOBALS%%
worker_processes 1;

events {
}

http {
    %%HTTP_GLOBALS%%

    otp_secret_file %%SECRET%%;
    otp_provider dev log;

    server {
        listen 127.0.0.1:%%PORT%%;

        otp_client_limit off;
        otp_resend_after 0s;

        location = /otp/send {
            if ($http_x_flag) {
                set $flagged 1;
            }

            otp_send;
        }

        location = /otp/verify {
            limit_except POST {
                deny all;
            }

            otp_verify;
        }

        location = /otp/slow {
            client_max_body_size 1;
            limit_rate 200;
            otp_send;
        }
    }
}

EOF

###############################################################################

my $r = $t->post('/otp/send', 'application/x-www-form-urlencoded',
                 'phone=%2B15551239001', headers => { 'X-Flag' => '1' });
is($r->{status}, 202, '"if" block in a send location: still a send');
is($r->{json}{status}, 'pending', '"if" block: the send answer');

$r = $t->get('/otp/verify');
is($r->{status} . ' ' . ($r->{json}{error} // 'not JSON'), '403 forbidden',
   'limit_except refusal: JSON 403');

# over client_max_body_size: nginx's own 413, answered as the API's 400,
# to a client the answer reaches at 200 bytes a second

$r = $t->raw("POST /otp/slow HTTP/1.1\r\nHost: localhost\r\n"
             . "Content-Type: application/x-www-form-urlencoded\r\n"
             . "Content-Length: 100\r\nConnection: close\r\n\r\n"
             . ('a' x 100), timeout => 8);
is($r->{status} . ' ' . ($r->{json}{error} // 'no body'),
   '400 invalid_request', 'error page to a slow client: the whole JSON');

$t->stop;

# a secret option left on a "log" provider line: the error names the key

my $secret = 'sk-' . join('', map { ('a'..'z')[rand 26] } 1 .. 20);

my $out = $t->check_config(<<"EOF");
%%GLOBALS%%
events {}
http {
    %%HTTP_GLOBALS%%
    otp_secret_file %%SECRET%%;
    otp_provider dev log auth_token=$secret;
    server {
        listen 127.0.0.1:%%PORT%%;
        location = /otp/send { otp_send; }
    }
}
EOF

like($out, qr/log provider "dev": unknown option "auth_token"/,
     'a log provider with an option is refused, naming the key');
unlike($out . $t->read_file('error.log'), qr/\Q$secret\E/,
       'and the secret is not echoed');

$t->done;
