#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# One Redis, two nginx instances (API.md: "atomic across all workers and
# all nginx instances that share the store"): a code sent through one is
# verified through the other, limits and attempts are shared, and 50
# concurrent wrong guesses split between the two instances still give
# exactly otp_max_attempts 401s.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use OtpTest;

###############################################################################

my $one = OtpTest->new->need_redis;
my $two = OtpTest->new->share_store_with($one);

# and the second harness's own implicit log checks
$one->plan(11 + OtpTest::IMPLICIT_TESTS);

my $conf = <<'EOF';

%%GLOBALS%%
worker_processes 2;

events {
    worker_connections 256;
}

http {
    %%HTTP_GLOBALS%%

    %%STORE%%
    otp_secret_file %%SECRET%%;
    otp_token_key_file %%TOKEN_KEY%% shared-1;
    otp_provider dev log;

    server {
        listen 127.0.0.1:%%PORT%% reuseport;

        otp_client_limit off;
        otp_max_attempts 5;

        location = /otp/send {
            otp_send;
        }

        location = /otp/verify {
            otp_verify;
        }
    }
}

EOF

$one->write_config($conf, store => 'redis')->run;
$two->write_config($conf, store => 'redis')->run;

sub wrong {
    my ($code, $n) = @_;
    return sprintf('%06d', ($code + $n) % 1000000);
}

###############################################################################

my ($r, $code);

# sent through one, verified through two

($r, $code) = $one->send_code('/otp/send', { phone => '+15550200001' });
is($r->{status}, 202, 'one: send 202');

$two->uses_phone('+15550200001');

$r = $two->post_form('/otp/verify',
                     { phone => '+15550200001', code => $code });
is($r->{status}, 200, 'two: verify 200');

my (undef, undef, $sig_ok) = eval {
    jwt_decode($r->{json}{token}, $one->token_key)
};
ok($sig_ok, 'two: the token verifies with the shared key');

$r = $one->post_form('/otp/verify',
                     { phone => '+15550200001', code => $code });
is($r->{status}, 410, 'one: the code two consumed 410');

# the cooldown and the attempts are the store's, not an instance's

($r, $code) = $one->send_code('/otp/send', { phone => '+15550200002' });
$two->uses_phone('+15550200002');

$r = $two->post_form('/otp/send', { phone => '+15550200002' });
is($r->{status}, 429, 'two: resend too early 429');

$r = $two->post_form('/otp/verify',
                     { phone => '+15550200002', code => wrong($code, 1) });
response_is($r, 401, { error => 'invalid_code', message => any_string,
                       attempts_remaining => number(4) },
            'two: wrong guess, 4 left');

$r = $one->post_form('/otp/verify',
                     { phone => '+15550200002', code => wrong($code, 2) });
response_is($r, 401, { error => 'invalid_code', message => any_string,
                       attempts_remaining => number(3) },
            'one: wrong guess, 3 left');

# 50 concurrent wrong guesses, every other one through the other instance

($r, $code) = $one->send_code('/otp/send', { phone => '+15550200003' });
$two->uses_phone('+15550200003');

my @answers = $one->concurrently(50, sub {
    my ($i) = @_;
    my $t = $i % 2 ? $one : $two;
    $t->post_form('/otp/verify',
                  { phone => '+15550200003', code => wrong($code, $i) });
});

my %n;
$n{ $_->{status} }++ for @answers;

is(join(' ', map { "$_:$n{$_}" } sort keys %n), '401:5 429:45',
   'both: 50 concurrent wrong guesses, 5 401, 45 429');

my @left = sort map { $_->{json}{attempts_remaining} // 'none' }
           grep { $_->{status} == 401 } @answers;
is("@left", '0 1 2 3 4', 'both: each attempt counted once');

$r = $one->post_form('/otp/verify',
                     { phone => '+15550200003', code => $code });
is($r->{status}, 429, 'one: the right code afterwards 429');

$r = $two->post_form('/otp/verify',
                     { phone => '+15550200003', code => $code });
is($r->{status}, 429, 'two: the right code afterwards 429');

$two->done;
$one->done;

###############################################################################
