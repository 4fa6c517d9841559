#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# Resending (API.md, "Send a code"): a new send for the same number
# replaces the previous code, so the old code stops working, and failed
# guesses count per number, so neither resending nor waiting for a code to
# expire is a way around the attempt limit.  Both stores.

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

$t->plan(16 * $t->stores);

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
        otp_send_limit 10/15m;
        otp_max_attempts 3;

        location = /otp/send {
            otp_send;
        }

        location = /otp/send/short-ttl {
            otp_ttl 1s;
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

###############################################################################

for my $store ($t->stores) {

$t->write_config($conf, store => $store)->run;

my ($r, $old, $new, $code);

# a new code kills the old one

($r, $old) = $t->send_code('/otp/send', { phone => '+15550140001' });
is($r->{status}, 202, "$store: replace: first send 202");

($r, $new) = $t->send_code('/otp/send', { phone => '+15550140001' });

# once in a million two sends draw the same code: then draw again
($r, $new) = $t->send_code('/otp/send', { phone => '+15550140001' })
    while $r->{status} == 202 && $new eq $old;

is($r->{status}, 202, "$store: replace: resend 202");

$r = $t->post_form('/otp/verify', { phone => '+15550140001', code => $old });
response_is($r, 401, {
    error => 'invalid_code',
    message => any_string,
    attempts_remaining => number(2),
}, "$store: replace: the old code 401 invalid_code");

$r = $t->post_form('/otp/verify', { phone => '+15550140001', code => $new });
is($r->{status}, 200, "$store: replace: the new code 200");

# a resend keeps the attempt counter: one wrong guess per code, three
# codes, and the third guess is the last

($r, $code) = $t->send_code('/otp/send', { phone => '+15550140002' });

$r = $t->post_form('/otp/verify',
                   { phone => '+15550140002', code => wrong($code) });
is($r->{json} && $r->{json}{attempts_remaining}, 2,
   "$store: keep attempts: code 1, wrong guess, 2 left");

($r, $code) = $t->send_code('/otp/send', { phone => '+15550140002' });
is($r->{status}, 202, "$store: keep attempts: resend 202");

$r = $t->post_form('/otp/verify',
                   { phone => '+15550140002', code => wrong($code) });
is($r->{json} && $r->{json}{attempts_remaining}, 1,
   "$store: keep attempts: code 2, wrong guess, 1 left");

($r, $code) = $t->send_code('/otp/send', { phone => '+15550140002' });
is($r->{status}, 202, "$store: keep attempts: resend 202 again");

$r = $t->post_form('/otp/verify',
                   { phone => '+15550140002', code => wrong($code) });
response_is($r, 401, {
    error => 'invalid_code',
    message => any_string,
    attempts_remaining => number(0),
}, "$store: keep attempts: code 3, wrong guess, 0 left");

# now locked: a resend is refused and the last code is dead

$r = $t->post_form('/otp/send', { phone => '+15550140002' });
response_is($r, 429, {
    error => 'rate_limited',
    message => any_string,
    retry_after => int_in(890, 900),
}, "$store: keep attempts: resend to the locked number 429");

$r = $t->post_form('/otp/verify', { phone => '+15550140002', code => $code });
response_is($r, 429, {
    error => 'too_many_attempts',
    message => any_string,
    retry_after => int_in(890, 900),
}, "$store: keep attempts: the last code 429 too_many_attempts");

# a number whose code was consumed starts again from the top

($r, $code) = $t->send_code('/otp/send', { phone => '+15550140001' });

$r = $t->post_form('/otp/verify',
                   { phone => '+15550140001', code => wrong($code) });
is($r->{json} && $r->{json}{attempts_remaining}, 2,
   "$store: fresh: a verified number has all its attempts again");

$r = $t->post_form('/otp/verify', { phone => '+15550140001', code => $code });
is($r->{status}, 200, "$store: fresh: and verifies");

# an expired code leaves its failures behind: they count per number for
# otp_lockout, so a send after the TTL does not start from the top

($r, $code) = $t->send_code('/otp/send/short-ttl', { phone => '+15550140003' });

$r = $t->post_form('/otp/verify',
                   { phone => '+15550140003', code => wrong($code) });
is($r->{json} && $r->{json}{attempts_remaining}, 2,
   "$store: expired: a wrong guess, 2 left");

sleep(1.2);

($r, $code) = $t->send_code('/otp/send', { phone => '+15550140003' });
is($r->{status}, 202, "$store: expired: send 202 after the TTL");

$r = $t->post_form('/otp/verify',
                   { phone => '+15550140003', code => wrong($code) });
is($r->{json} && $r->{json}{attempts_remaining}, 1,
   "$store: expired: the failure against the old code still counts");

$t->stop;

}

$t->done;

###############################################################################
