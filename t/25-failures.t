#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# Failed guesses count per number, whatever code they were against
# (src/ngx_http_otp_store.h): max_attempts failures within otp_lockout
# lock the number even across codes that expired in between, and
# otp_max_failures COUNT/TIME bounds them over a long window (then send and
# verify answer 429 until it ends); a right code clears both counts.  A
# resend through a location with looser settings loosens nothing of a live
# record.  Both stores.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Time::HiRes qw(sleep);
use OtpTest;

###############################################################################

my $t = OtpTest->new;

$t->plan(25 * $t->stores + 3);

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
        otp_resend_after 0s;
        otp_send_limit 50/15m;
        otp_max_attempts 3;
        otp_lockout 15m;

        location = /otp/send {
            otp_send;
        }

        location = /otp/send/short-ttl {
            otp_ttl 1s;
            otp_send;
        }

        location = /otp/send/long {
            otp_lockout 1s;
            otp_max_failures 4/1h;
            otp_send;
        }

        location = /otp/send/short-lock {
            otp_lockout 2s;
            otp_send;
        }

        location = /otp/send/loose {
            otp_max_attempts 50;
            otp_lockout 2s;
            otp_send;
        }

        location = /otp/verify {
            otp_verify;
        }
    }
}

EOF

sub wrong {
    my ($code, $n) = @_;
    return sprintf('%06d', ($code + ($n // 1)) % 1000000);
}

sub left {
    my ($r) = @_;
    return $r->{status} . ' '
           . ($r->{json} ? $r->{json}{attempts_remaining} // '-' : '-');
}

sub too_many {
    my ($r, $lo, $hi, $name) = @_;
    response_is($r, 429, {
        error => 'too_many_attempts',
        message => any_string,
        retry_after => int_in($lo, $hi),
    }, $name);
}

sub rate_limited {
    my ($r, $lo, $hi, $name) = @_;
    response_is($r, 429, {
        error => 'rate_limited',
        message => any_string,
        retry_after => int_in($lo, $hi),
    }, $name);
}

###############################################################################

for my $store ($t->stores) {

$t->write_config($conf, store => $store)->run;

my ($r, $code, $phone);

# waiting out the TTL resets nothing: otp_ttl 1s, otp_max_attempts 3, one
# wrong guess per code, a new code after each expiry (this measured 2, 1,
# 2, 1, ... when the failures died with the code)

$phone = '+15550250001';
($r, $code) = $t->send_code('/otp/send/short-ttl', { phone => $phone });
$r = $t->post_form('/otp/verify', { phone => $phone, code => wrong($code) });
is(left($r), '401 2', "$store: ttl: code 1, a wrong guess, 2 left");

sleep(1.2);

($r, $code) = $t->send_code('/otp/send/short-ttl', { phone => $phone });
$r = $t->post_form('/otp/verify', { phone => $phone, code => wrong($code) });
is(left($r), '401 1', "$store: ttl: code 2 after the first expired, 1 left");

sleep(1.2);

($r, $code) = $t->send_code('/otp/send/short-ttl', { phone => $phone });
is($r->{status}, 202, "$store: ttl: code 3 after the second expired");
$r = $t->post_form('/otp/verify', { phone => $phone, code => wrong($code) });
is(left($r), '401 0', "$store: ttl: the third failure, 0 left");

$r = $t->post_form('/otp/verify', { phone => $phone, code => $code });
too_many($r, 890, 900, "$store: ttl: locked for otp_lockout, right code 429");

$r = $t->post_form('/otp/send', { phone => $phone });
rate_limited($r, 890, 900, "$store: ttl: send to the locked number 429");

# otp_lockout 2s: three failures 1.2s apart lock the number, each within
# otp_lockout of the one before (a window fixed at the first failure would
# have ended before the third)

$phone = '+15550250006';
($r, $code) = $t->send_code('/otp/send/short-lock', { phone => $phone });

for my $n (1, 2) {
    $t->post_form('/otp/verify', { phone => $phone, code => wrong($code, $n) });
    sleep(1.2);
}

$r = $t->post_form('/otp/verify', { phone => $phone, code => wrong($code, 3) });
is(left($r), '401 0', "$store: spaced: the third failure 1.2s after the "
   . 'second locks');

# otp_max_failures 4/1h over otp_max_attempts 3 with otp_lockout 1s: two
# failures, the short window ends, two more reach the long limit

$phone = '+15550250002';
($r, $code) = $t->send_code('/otp/send/long', { phone => $phone });
$r = $t->post_form('/otp/verify', { phone => $phone, code => wrong($code) });
is(left($r), '401 2', "$store: long: failure 1, 2 left");
$r = $t->post_form('/otp/verify', { phone => $phone, code => wrong($code, 2) });
is(left($r), '401 1', "$store: long: failure 2, 1 left");

sleep(1.1);

($r, $code) = $t->send_code('/otp/send/long', { phone => $phone });
is($r->{status}, 202, "$store: long: a new code once otp_lockout passed");
$r = $t->post_form('/otp/verify', { phone => $phone, code => wrong($code) });
is(left($r), '401 1',
   "$store: long: failure 3, 1 left (the long window's, not the short's 2)");
$r = $t->post_form('/otp/verify', { phone => $phone, code => wrong($code, 2) });
is(left($r), '401 0', "$store: long: failure 4, 0 left");

$r = $t->post_form('/otp/verify', { phone => $phone, code => $code });
too_many($r, 3590, 3600,
         "$store: long: verify 429 too_many_attempts until the window ends");

$r = $t->post_form('/otp/send/long', { phone => $phone });
rate_limited($r, 3590, 3600,
             "$store: long: send 429 rate_limited until the window ends");

# a right code clears both counts

$phone = '+15550250003';
($r, $code) = $t->send_code('/otp/send/long', { phone => $phone });
$t->post_form('/otp/verify', { phone => $phone, code => wrong($code) });
$r = $t->post_form('/otp/verify', { phone => $phone, code => wrong($code, 2) });
is(left($r), '401 1', "$store: clear: two failures, 1 left");

sleep(1.1);

($r, $code) = $t->send_code('/otp/send/long', { phone => $phone });
$r = $t->post_form('/otp/verify', { phone => $phone, code => $code });
is($r->{status}, 200, "$store: clear: the right code 200");

($r, $code) = $t->send_code('/otp/send/long', { phone => $phone });
$r = $t->post_form('/otp/verify', { phone => $phone, code => wrong($code) });
is(left($r), '401 2', "$store: clear: a new code, both counts from zero");

# a looser resend loosens nothing: otp_max_attempts 3 and otp_lockout 15m,
# two failures, a resend under otp_max_attempts 50 and otp_lockout 2s

$phone = '+15550250004';
($r, $code) = $t->send_code('/otp/send', { phone => $phone });
$t->post_form('/otp/verify', { phone => $phone, code => wrong($code) });
$r = $t->post_form('/otp/verify', { phone => $phone, code => wrong($code, 2) });
is(left($r), '401 1', "$store: loose: two failures, 1 left");

($r, $code) = $t->send_code('/otp/send/loose', { phone => $phone });
is($r->{status}, 202, "$store: loose: resend through the looser location");

$r = $t->post_form('/otp/verify', { phone => $phone, code => wrong($code) });
is(left($r), '401 0',
   "$store: loose: the lower otp_max_attempts holds (0 left, not 47)");

$r = $t->post_form('/otp/verify', { phone => $phone, code => $code });
too_many($r, 890, 900, "$store: loose: the longer otp_lockout holds");

# and the looser settings apply again once the record is gone

$phone = '+15550250005';
($r, $code) = $t->send_code('/otp/send/loose', { phone => $phone });
$r = $t->post_form('/otp/verify', { phone => $phone, code => wrong($code) });
is(left($r), '401 19',
   "$store: loose alone: 49 attempts left, 19 failures (20/24h default)");

# a stricter location meets failures counted under a looser one: 429
# until they age out of the window they were counted in (2s)

for my $n (2, 3) {
    $r = $t->post_form('/otp/verify',
                       { phone => $phone, code => wrong($code, $n) });
}
is(left($r), '401 17', "$store: strict: three failures under the looser");

$r = $t->post_form('/otp/send', { phone => $phone });
rate_limited($r, 1, 2, "$store: strict: a send through otp_max_attempts 3 "
             . "429 until those failures age out");

$r = $t->post_form('/otp/verify', { phone => $phone, code => $code });
is($r->{status}, 200, "$store: strict: the looser code still verifies");

$t->stop;

}

# the directive's syntax, by nginx -t

sub nginx_t {
    my ($directive) = @_;

    return $t->check_config(<<"EOF");
%%GLOBALS%%
events {}
http {
    %%HTTP_GLOBALS%%
    otp_secret_file %%SECRET%%;
    otp_provider dev log;
    server {
        listen 127.0.0.1:%%PORT%%;
        location = /otp/send { otp_send; $directive }
    }
}
EOF
}

like(nginx_t('otp_max_failures 0/1h;'), qr/invalid limit "0\/1h"/,
     'otp_max_failures 0/1h is refused');
like(nginx_t('otp_max_failures 20;'), qr/invalid limit "20"/,
     'otp_max_failures without a window is refused');
like(nginx_t('otp_max_failures off;'), qr/test is successful/,
     'otp_max_failures off is accepted');

$t->done;

###############################################################################
