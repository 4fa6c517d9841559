#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# otp_analytics_retention on the shm store, with nginx's clock moved
# (libfaketime, scripts/install-deps): a send's hour row lives until the
# end of its hour plus the retention (2h here), not a moment less, then
# it is gone from the answers while a later hour counts on.  The Redis
# store's rule (PEXPIREAT on Redis's own clock) is in t/74-analytics.t and
# t/64-redis-keys.t.  Skipped without libfaketime, and under the
# sanitizers (their runtime must be the first preloaded).

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Time::HiRes qw(sleep);
use OtpTest;

###############################################################################

my ($faketime) = grep { -f }
    map { "$_/faketime/libfaketime.so.1" }
    '/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib';

plan(skip_all => 'no libfaketime (scripts/install-deps)') unless $faketime;
plan(skip_all => 'the sanitizers preload their own runtime')
    if ($ENV{TEST_NGINX_BINARY} // '') =~ /sanitized/;

my $t = OtpTest->new;

$t->plan(7);

my $conf = <<'EOF';

%%GLOBALS%%
worker_processes 2;

# nginx keeps only TZ in a worker's environment unless told; libfaketime
# reads these again at every call
env FAKETIME_TIMESTAMP_FILE;
env FAKETIME_NO_CACHE;
env FAKETIME_DONT_FAKE_MONOTONIC;

events {
}

http {
    %%HTTP_GLOBALS%%

    otp_store shm:otp_74r:1m;
    otp_secret_file %%SECRET%%;

    otp_analytics_retention 2h;

    otp_provider dev log;
    otp_route sms default dev;

    server {
        listen 127.0.0.1:%%PORT%%;

        otp_client_limit off;
        otp_resend_after 0s;

        location = /otp/send {
            otp_send;
        }

        location = /otp/analytics {
            otp_analytics;
        }
    }
}

EOF

# nginx's clock, read again at every call: "+0", then moved forward

my $clock = $t->dir . '/faketime';
$t->write_file('faketime', "+0\n");

{
    local $ENV{LD_PRELOAD} = $faketime;
    local $ENV{FAKETIME_TIMESTAMP_FILE} = $clock;
    local $ENV{FAKETIME_NO_CACHE} = 1;
    local $ENV{FAKETIME_DONT_FAKE_MONOTONIC} = 1;

    $t->write_config($conf)->run;
}

sub move_to {
    my ($seconds) = @_;
    $t->write_file('faketime', "+$seconds\n");
}

sub sent_in {
    my ($hour) = @_;
    my $r = $t->get('/otp/analytics?from=' . $hour . '&to=' . ($hour + 3600));
    return $r->{status} == 200 ? $r->{json}{totals}{sent} : "HTTP $r->{status}";
}

my $hour = int(time / 3600) * 3600;

is($t->post_form('/otp/send', { phone => '+15550107401' })->{status}, 202,
   'a send');
is(sent_in($hour), 1, 'counted in its hour');

# 2 h later: its hour ended less than the retention ago

move_to(7200);
is(sent_in($hour), 1, '2 h later: kept (the hour\'s end + 2h is ahead)');

# 3 h later: past the end of its hour + 2 h

move_to(3 * 3600);
is(sent_in($hour), 0, '3 h later: gone');

is($t->post_form('/otp/send', { phone => '+15550107402' })->{status}, 202,
   'a send 3 h later');
is(sent_in($hour + 3 * 3600), 1, 'counted in its own hour');
is(sent_in($hour), 0, 'and the old hour stays gone');

$t->stop;

$t->done;

###############################################################################
