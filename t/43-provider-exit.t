#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# A worker that exits while a send waits on its providers follows the HTTP
# client's policy (ngx_http_otp_http.h): when worker_shutdown_timeout
# closes curl's connections, every call in flight is answered as aborted
# at once, and no call starts after that, so a chain of providers does not
# fall through to the next one (which would hold the exiting worker for
# its whole timeout); the worker exits within the shutdown timeout, and
# nothing is logged at [alert].

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use POSIX ();
use IO::Socket::INET;
use Time::HiRes qw(time sleep);
use OtpTest;
use MockProvider;

###############################################################################

my $t = OtpTest->new;

$t->plan(4);

my $mock = MockProvider->new(dir => $t->dir);

my $AC1 = 'AC41414141414141414141414141414141';
my $AC2 = 'AC41424242424242424242424242424242';

my $conf = <<'EOF';

%%GLOBALS%%
worker_processes 1;
worker_shutdown_timeout 1s;

events {
}

http {
    %%HTTP_GLOBALS%%

    %%STORE%%
    otp_secret_file %%SECRET%%;

    otp_provider first twilio account_sid=@AC1@ auth_token=exittoken
                 from=+15005550006 base_url=@MOCK@ timeout=30s;
    otp_provider second twilio account_sid=@AC2@ auth_token=exittoken
                 from=+15005550006 base_url=@MOCK@ timeout=30s;

    otp_route sms default first second;

    server {
        listen 127.0.0.1:%%PORT%%;

        otp_client_limit off;

        location = /otp/send {
            otp_send;
        }
    }
}

EOF

my %subst = (MOCK => $mock->url, AC1 => $AC1, AC2 => $AC2);
$conf =~ s/@(\w+)@/$subst{$1}/g;

$t->write_config($conf)->run;

# both providers take the message and never answer
$mock->on(qr{/Messages\.json$} => { hang => 1 });

###############################################################################

# The shutdown timer closes connections in the order of their slots, and
# a client's request that is closed first cancels its send, which is not
# the case under test: so the client's connection is made to take a slot
# after the one curl's socket will take.  nginx reuses the slot freed last
# first: two connections open (slots L, then H) and close, L first; the
# client then gets H, and curl's socket L.

my @idle = map {
    IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $t->port('PORT'))
        or die "connect: $!";
} 1 .. 2;

sleep 0.3;

for my $s (@idle) {
    close $s;
    sleep 0.3;
}

my $phone = '+15550410001';
$t->uses_phone($phone);

my $kid = fork() // die "fork: $!";

if ($kid == 0) {
    $t->post_form('/otp/send', { phone => $phone }, timeout => 40);
    POSIX::_exit(0);
}

$mock->wait_requests(1, qr/Messages/, 5);

is(scalar $mock->requests(qr{/$AC1/Messages}), 1,
   'the first provider is asked, and hangs');

# a graceful stop: after worker_shutdown_timeout (1 s) curl's connection
# is closed and the call aborted; the second provider is never asked

my $start = time;
$t->stop;
my $took = time - $start;

waitpid($kid, 0);

is(scalar $mock->requests(qr{/$AC2/Messages}), 0,
   'aborted by the exit: the chain does not fall through to the second');

# a coarse bound: the 30 s provider timeout would hold the worker
ok($took < 8, 'the worker exits within the shutdown timeout, not the '
   . 'provider\'s') or diag("stop took ${took}s");

is(scalar(grep { /otp provider "first" failed to deliver .* via sms: aborted: "worker is shutting down"/ }
          split /\n/, $t->read_file('error.log')),
   1, 'the abort is logged once, as aborted');

###############################################################################

$mock->stop;
$t->done;

###############################################################################
