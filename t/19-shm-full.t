#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# A full shm zone (README, otp_store): new records are refused with 503
# store_unavailable rather than evicting live ones, so the codes already
# sent keep working (and an attacker cannot flush a number's counters by
# filling the zone); once records expire, their room is used again.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Time::HiRes qw(sleep time);
use OtpTest;

###############################################################################

my $t = OtpTest->new;

$t->plan(7);

# the smallest zone nginx allows: 8 pages
$t->write_config(<<'EOF')->run;

%%GLOBALS%%
worker_processes 1;

events {
}

http {
    %%HTTP_GLOBALS%%

    otp_store shm:tiny:32k;
    otp_secret_file %%SECRET%%;
    otp_provider dev log;

    server {
        listen 127.0.0.1:%%PORT%%;

        otp_client_limit off;
        otp_ttl 3s;
        otp_send_limit 5/3s;
        otp_max_attempts 3;

        location = /otp/send {
            otp_send;
        }

        location = /otp/verify {
            otp_verify;
        }
    }
}

EOF

###############################################################################

my ($r, $code) = $t->send_code('/otp/send', { phone => '+15550190000' });
is($r->{status}, 202, 'the first send 202');

# a wrong guess: the record now holds an attempt count too
$r = $t->post_form('/otp/verify', { phone => '+15550190000',
                                    code => sprintf('%06d',
                                                    ($code + 1) % 1000000) });
is($r->{json} && $r->{json}{attempts_remaining}, 2, 'a wrong guess, 2 left');

# fill the zone: other numbers until a send is refused

my $start = time;
my $n = 0;

for (1 .. 2000) {
    $n++;
    $r = $t->post_form('/otp/send', { phone => sprintf('+1555029%04d', $n) });
    last if $r->{status} != 202;
}

my $fill = time - $start;

response_is($r, 503, { error => 'store_unavailable', message => any_string },
            "the zone full after $n sends: 503 store_unavailable");

# the live records were kept, counters included

$r = $t->post_form('/otp/verify', { phone => '+15550190000',
                                    code => sprintf('%06d',
                                                    ($code + 2) % 1000000) });
is($r->{json} && $r->{json}{attempts_remaining}, 1,
   'the first number kept its attempt count');

$r = $t->post_form('/otp/verify', { phone => '+15550190000', code => $code });
is($r->{status}, 200, 'and its code verifies');

# room comes back as records expire (otp_ttl 3s, otp_send_limit 5/3s)

sleep(3.2 - (time - $start)) if time - $start < 3.2;

$r = $t->post_form('/otp/send', { phone => '+15550199999' });
is($r->{status}, 202, 'after expiry: send 202 again');

ok($fill < 3, sprintf('the zone filled in %.1f s, within the TTL', $fill));

$t->done;

###############################################################################
