#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# The shm zone full: its oldest analytics rows are evicted before any
# message record (a statistic is worth less than a delivery status or a
# fallback's blob; rows are kept for days, message records for a day).
# A 32k zone: sends to 44 countries make 44 rows of one hour besides
# their message records; 60 more sends to +1 fill the zone.  The rows of
# the first countries must be gone while the newest 10 messages' statuses
# are all there, and the zone never refused an operation.  (It kept every
# analytics row and evicted message records only: 4 statuses were left.)

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

$t->plan(4);

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

        location /otp/status/ {
            otp_status;
        }

        location = /otp/analytics {
            otp_analytics;
        }
    }
}

EOF

###############################################################################

my @cc = qw(20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53
            54 55 56 57 58 60 61 62 63 64 65 66 81 82 84 86 90 91 92 93 94
            95 98);

my (%status, @ids);

my $i = 0;

for my $phone ((map { "+${_}7001234567" } @cc),
               (map { sprintf('+1555%07d', $_) } 1 .. 60))
{
    my $r = $t->post_form('/otp/send', { phone => $phone });
    $status{$r->{status}}++;

    next unless $r->{status} == 202;

    push @ids, $r->{json}{message_id};

    # a code verified leaves its message record only
    my $code = $t->code_for($r->{json}{message_id});
    $t->post_form('/otp/verify', { phone => $phone, code => $code });

    # the one-second send windows of this batch expire
    sleep 1.05 if ++$i % 25 == 0;
}

is_deeply(\%status, { 202 => @cc + 60 }, 'every send accepted');

my $countries = $t->get('/otp/analytics')->{json}{countries} || [];
my %seen = map { $_->{country} => 1 } @$countries;

ok(!$seen{20} && !$seen{27}, 'the oldest analytics rows were evicted')
    or diag(join(' ', sort keys %seen) . ' left');

my @kept = grep { $t->get("/otp/status/$ids[$_]")->{status} == 200 }
           0 .. $#ids;

is(scalar(grep { $_ >= $#ids - 9 } @kept), 10,
   "the newest 10 messages' statuses are there")
    or diag("statuses kept: @kept");

unlike($t->read_file('error.log'), qr/zone is full of live records/,
       'the zone never refused an operation');

$t->stop;
$t->done;
