#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# Delivery analytics on a Redis Cluster (t/74-analytics.t runs the rest on
# one Redis and shm).  The hour's counters (otp:{a}:HOUR) are in another
# slot than the message records: message_put.lua and status_set.lua
# answer the counters and the module adds them with analytics_add.lua in
# their slot.  Sends to numbers whose records land on all three masters,
# delivered and failed callbacks: the endpoint counts them exactly, the
# counters live on the one master that serves the slot of "a", and
# nothing of them is in the message records.  The cluster is
# t/lib/OtpCluster.pm's, as t/67-redis-cluster.t's.  24 sends: with 12,
# a master got no record about once in 50 runs (random message ids).

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use JSON::PP;
use Time::HiRes qw(sleep time);
use OtpTest;
use OtpCluster;
use OtpStatus;
use MockProvider;

###############################################################################

my $t = OtpTest->new;

plan(skip_all => 'redis-server 5+ or redis-cli not found')
    unless OtpCluster->usable;

$t->plan(9);

my $mock = MockProvider->new(dir => $t->dir);

my $AC = 'ACa1b2c3d4e5f60718293a4b5c6d7e8f90';
my $TOKEN = 'tok1c0ffee5ecret0ddba11deadbeefab';

my $cluster = OtpCluster->new($t);
my @ports = $cluster->ports;

###############################################################################

is($cluster->create, 3, 'a 3-master cluster on loopback')
    or diag($cluster->{created});

###############################################################################

my $conf = <<'EOF';

%%GLOBALS%%
worker_processes 2;

events {
}

http {
    %%HTTP_GLOBALS%%

    otp_store redis-cluster://127.0.0.1:@P1@,127.0.0.1:@P2@
              connect_timeout=1s timeout=3s;
    otp_secret_file %%SECRET%%;

    otp_provider tw twilio account_sid=@AC@ auth_token=@TOKEN@
                 from=+15005550006 base_url=@MOCK@;

    otp_route sms default tw;

    server {
        listen 127.0.0.1:%%PORT%%;

        otp_public_url http://127.0.0.1:%%PORT%%;
        otp_client_limit off;
        otp_resend_after 0s;

        location = /otp/send {
            otp_send;
        }

        location = /hooks/tw {
            otp_webhook tw;
        }

        location = /otp/analytics {
            otp_analytics;
        }
    }
}

EOF

my %subst = (MOCK => $mock->url, AC => $AC, TOKEN => $TOKEN,
             P1 => $ports[0], P2 => $ports[1]);
$conf =~ s/@(\w+)@/$subst{$1}/g;

$t->write_config($conf)->run;

###############################################################################

sub report {
    my ($sid, $status, %more) = @_;
    return twilio_report($t, '/hooks/tw', $TOKEN, MessageSid => $sid,
                         MessageStatus => $status, AccountSid => $AC,
                         %more);
}

my @sids;

for my $n (1 .. 24) {
    my $r = $t->post_form('/otp/send',
                          { phone => sprintf('+4477009%05d', $n) });
    push @sids, $r->{json}{message_id} if $r->{status} == 202;
}

is(scalar @sids, 24, 'twenty-four sends');

# the records are on every master

my %on = map { $_ => scalar(my @k = $cluster->keys_on($_, 'otp:m:*')) } 0 .. 2;
is(scalar(grep { $on{$_} } 0 .. 2), 3, 'the message records on all three')
    or diag(join ' ', %on);

report($_, 'delivered') for @sids[0 .. 4];
report($sids[0], 'read');
report($_, 'failed', ErrorCode => '30008') for @sids[5, 6];
report($sids[7], 'undelivered');

# the counters are added a round trip after the answers

my $j = {};
my $deadline = time + 3;

while (time < $deadline) {
    $j = $t->get('/otp/analytics')->{json} || {};
    last if ($j->{totals}{failed} // 0) == 3
            && ($j->{totals}{delivered} // 0) == 5;
    sleep 0.1;
}

is(join(' ', map { "$_=" . ($j->{totals}{$_} // 'null') }
             qw(sent delivered failed delivery_rate)),
   'sent=24 delivered=5 failed=3 delivery_rate=0.2083',
   'counted exactly, across the masters');
is(join(' ', map { "$_->{error_code}=$_->{count}" }
             @{ $j->{failures} || [] }),
   '30008=2 unknown=1', 'failures by code');
is(join(' ', map { "$_->{country}/$_->{channel}=$_->{sent}" }
             @{ $j->{countries} || [] }),
   '44/sms=24', 'by country');

# one master holds them all

my @holders = grep { my @k = $cluster->keys_on($_, 'otp:{a}:*'); @k } 0 .. 2;
is(scalar @holders, 1, 'the hour\'s counters on one master');

is(scalar(grep { /^otp:\{a\}:\d+$/ } map { $cluster->keys_on($_, 'otp:{a}:*') }
                                     0 .. 2), 1, 'one hash, this hour\'s');

unlike($t->read_file('error.log'), qr/analytics counters lost/,
       'no count lost');

$t->stop;
$cluster->stop;

$t->done;

###############################################################################
