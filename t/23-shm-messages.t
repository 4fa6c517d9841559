#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# Message records (kept a day for delivery status) must not fill the shm
# zone and lock out sends: when the zone is full, the oldest message records
# are evicted, while live codes, attempt counters and send windows never are
# (t/19-shm-full.t).  A 32k zone holds about a hundred records; 150 numbers
# each get a code, verify it, and so leave only a message record behind.

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

my $numbers = 150;

$t->plan(3);

$t->write_config(<<'EOF')->run;

%%GLOBALS%%
worker_processes 1;

events {
}

http {
    %%HTTP_GLOBALS%%

    otp_store shm:otp_small:32k;
    otp_secret_file %%SECRET%%;
    otp_provider dev log;

    server {
        listen 127.0.0.1:%%PORT%%;

        otp_client_limit off;
        otp_resend_after 0s;
        otp_send_limit 5/1s;
        otp_message_ttl 1d;

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

my (%status, $verified);

for my $i (1 .. $numbers) {
    my $phone = sprintf('+1555%07d', $i);

    my $r = $t->post_form('/otp/send', { phone => $phone });
    $status{$r->{status}}++;

    next unless $r->{status} == 202;

    my $code = $t->code_for($r->{json}{message_id});
    $r = $t->post_form('/otp/verify', { phone => $phone, code => $code });
    $verified++ if $r->{status} == 200;

    # let the one-second send windows of this batch expire
    sleep 1.05 if $i % 25 == 0;
}

is_deeply(\%status, { 202 => $numbers },
          "$numbers sends into a zone that holds fewer message records: "
          . "all 202");
is($verified, $numbers, 'and every code verifies');

# (an analytics count may be dropped: statistics give way to message
# records, which evict them, t/74-analytics-evict.t)
unlike($t->read_file('error.log'), qr/zone is full of live records/,
       'the zone never refused an operation');

$t->stop;
$t->done;
