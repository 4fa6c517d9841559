#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# nginx -s reload keeps live state: a code sent before a reload verifies
# after it, attempts and cooldowns carry over, and the new workers answer
# at once (no 503 while they connect to the store).  Both stores: the shm
# zone is kept across the reload, Redis is Redis.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use OtpTest;

###############################################################################

my $t = OtpTest->new;

$t->plan(9 * $t->stores);

my $conf = <<'EOF';

%%GLOBALS%%
master_process on;
worker_processes 2;

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

sub wrong {
    my ($code) = @_;
    return sprintf('%06d', ($code + 1) % 1000000);
}

###############################################################################

for my $store ($t->stores) {

$t->write_config($conf, store => $store)->run;

my ($r, $code1, $code2, $code3);

(undef, $code1) = $t->send_code('/otp/send', { phone => '+15550170001' });
(undef, $code2) = $t->send_code('/otp/send', { phone => '+15550170002' });
(undef, $code3) = $t->send_code('/otp/send', { phone => '+15550170003' });

$r = $t->post_form('/otp/verify',
                   { phone => '+15550170002', code => wrong($code2) });
is($r->{json} && $r->{json}{attempts_remaining}, 2,
   "$store: before reload: a wrong guess, 2 left");

my @old = $t->worker_pids;

$t->reload;

my @new = $t->worker_pids;
ok(@new == 2 && !grep({ my $o = $_; grep { $_ == $o } @new } @old),
   "$store: reload: new workers");

# the first request to a new worker

$r = $t->post_form('/otp/verify', { phone => '+15550170001', code => $code1 });
is($r->{status}, 200, "$store: after reload: the code sent before verifies");

$r = $t->post_form('/otp/verify',
                   { phone => '+15550170002', code => wrong($code2) });
is($r->{json} && $r->{json}{attempts_remaining}, 1,
   "$store: after reload: the attempts carried over");

$r = $t->post_form('/otp/send', { phone => '+15550170003' });
is($r->{status}, 429, "$store: after reload: the cooldown carried over");

$r = $t->post_form('/otp/verify', { phone => '+15550170003', code => $code3 });
is($r->{status}, 200, "$store: after reload: another code verifies");

# twice more, each time straight to the new workers

for my $n (2, 3) {
    my ($r, $code) = $t->send_code('/otp/send',
                                   { phone => "+1555017001$n" });
    $t->reload;

    $r = $t->post_form('/otp/verify', { phone => "+1555017001$n",
                                        code => $code });
    is($r->{status}, 200, "$store: reload $n: the code sent before verifies");
}

$r = $t->post_form('/otp/verify', { phone => '+15550170001', code => $code1 });
is($r->{status}, 410, "$store: after reloads: a used code stays used");

$t->stop;

}

$t->done;

###############################################################################
