#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# otp_token_cookie NAME [secure=on|off|auto]: behind a proxy that
# terminates TLS, nginx sees plain HTTP while the browser's connection is
# HTTPS, so the cookie's Secure attribute can be forced (on), left out
# (off), or follow what nginx sees (auto, the default).  A location
# inherits the name and the mode together.

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
        otp_resend_after 0s;
        otp_token_ttl 60s;

        # a proxy in front terminates TLS
        otp_token_cookie behind_proxy secure=on;

        location = /otp/send {
            otp_send;
        }

        location = /otp/verify/inherited {
            otp_verify;
        }

        location = /otp/verify/auto {
            otp_token_cookie plain;
            otp_verify;
        }

        location = /otp/verify/off {
            otp_token_cookie local secure=off;
            otp_verify;
        }
    }
}

EOF

sub cookie_after_verify {
    my ($path, $phone) = @_;

    my (undef, $code) = $t->send_code('/otp/send', { phone => $phone });
    my $r = $t->post_form($path, { phone => $phone, code => $code });
    my $token = $r->{json} ? $r->{json}{token} // '' : '';

    return ($r->{headers}{'set-cookie'} // '', $token);
}

my ($cookie, $token) = cookie_after_verify('/otp/verify/inherited',
                                          '+15550139001');
is($cookie, "behind_proxy=$token; Path=/; Max-Age=60; HttpOnly; "
            . "SameSite=Lax; Secure",
   'secure=on: Secure over plain HTTP, inherited with the name');

($cookie, $token) = cookie_after_verify('/otp/verify/auto', '+15550139002');
is($cookie, "plain=$token; Path=/; Max-Age=60; HttpOnly; SameSite=Lax",
   'a name alone: auto, and nginx sees plain HTTP: no Secure');

($cookie, $token) = cookie_after_verify('/otp/verify/off', '+15550139003');
is($cookie, "local=$token; Path=/; Max-Age=60; HttpOnly; SameSite=Lax",
   'secure=off: no Secure');

$t->stop;

# what nginx -t refuses

for my $case (['otp_token_cookie t secure=maybe;', qr/secure= takes on, off or auto/],
              ['otp_token_cookie t httponly=off;', qr/invalid parameter "httponly=off"/],
              ['otp_token_cookie off secure=on;', qr/invalid parameter "secure=on"/])
{
    my ($directive, $re) = @$case;

    my $out = $t->check_config(<<"EOF");
%%GLOBALS%%
events {}
http {
    %%HTTP_GLOBALS%%
    otp_secret_file %%SECRET%%;
    otp_provider dev log;
    server {
        listen 127.0.0.1:%%PORT%%;
        location = /otp/verify { otp_verify; $directive }
    }
}
EOF

    like($out, $re, "nginx -t refuses \"$directive\"");
}

$t->done;
