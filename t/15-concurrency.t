#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# Atomicity across workers (API.md, "Verify a code"): N concurrent guesses
# for one number consume N attempts, and at most otp_max_attempts guesses
# are ever compared against the code.  50 clients, forked and released
# together on two workers that each have their own listening socket: exactly
# 5 get 401 (with attempts_remaining 4, 3, 2, 1, 0, each once), the other 45
# get 429, and the right code is refused afterwards.  The same for sends:
# 20 concurrent sends under otp_send_limit 5 give exactly 5 202s.  Both
# stores.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use OtpTest;

###############################################################################

my $t = OtpTest->new;

$t->plan(7 * $t->stores);

my $conf = <<'EOF';

%%GLOBALS%%
master_process on;
worker_processes 2;

events {
    worker_connections 256;
}

http {
    %%HTTP_GLOBALS%%

    %%STORE%%
    otp_secret_file %%SECRET%%;
    otp_provider dev log;

    server {
        # reuseport: one socket per worker, so both take a share of the
        # clients
        listen 127.0.0.1:%%PORT%% reuseport;

        otp_client_limit off;
        otp_max_attempts 5;
        otp_lockout 15m;

        location = /otp/send {
            otp_resend_after 0s;
            otp_send_limit 5/15m;
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
    return sprintf('%06d', ($code + $n) % 1000000);
}

sub by_status {
    my %n;
    $n{ $_->{status} }++ for @_;
    return join(' ', map { "$_:$n{$_}" } sort keys %n);
}

###############################################################################

for my $store ($t->stores) {

$t->write_config($conf, store => $store)->run;

is(scalar $t->worker_pids, 2, "$store: two workers");

my ($r, $code) = $t->send_code('/otp/send', { phone => '+15550150001' });

# 50 wrong guesses at once

my @answers = $t->concurrently(50, sub {
    $t->post_form('/otp/verify',
                  { phone => '+15550150001', code => wrong($code, $_[0]) });
});

is(by_status(@answers), '401:5 429:45',
   "$store: 50 concurrent wrong guesses: 5 401, 45 429");

my @left = sort map { $_->{json}{attempts_remaining} // 'none' }
           grep { $_->{status} == 401 } @answers;

is("@left", '0 1 2 3 4',
   "$store: 50 concurrent wrong guesses: each attempt counted once");

ok(!grep({ $_->{status} == 429
           && ($_->{json}{error} // '') ne 'too_many_attempts' } @answers),
   "$store: 50 concurrent wrong guesses: the 429s are too_many_attempts");

$r = $t->post_form('/otp/verify', { phone => '+15550150001', code => $code });
is($r->{status}, 429, "$store: the right code afterwards 429");

# the guesses were answered by both workers

my %pids;
for (split /\n/, $t->read_file('error.log')) {
    $pids{$1} = 1
        if /\[info\] (\d+)#\d+: .*otp (wrong code|attempts exhausted)/;
}

my %workers = map { $_ => 1 } $t->worker_pids;
is(scalar(grep { $workers{$_} } keys %pids), 2,
   "$store: both workers answered guesses");

# 20 sends at once under otp_send_limit 5/15m

$t->uses_phone('+15550150002');

@answers = $t->concurrently(20, sub {
    $t->post_form('/otp/send', { phone => '+15550150002' });
});

is(by_status(@answers), '202:5 429:15',
   "$store: 20 concurrent sends: 5 202, 15 429");

$t->stop;

}

$t->done;

###############################################################################
