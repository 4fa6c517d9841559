#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# What a Redis says is untrusted text: whatever answers at the store's
# address may put a bare line feed and anything else in an error line
# (hiredis ends a line at CRLF only).  The module logs it with everything
# but printable ASCII as \xHH: it can never forge a line of error.log.
# A fake Redis refuses the handshake's AUTH with such a text.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use POSIX qw(_exit);
use IO::Socket::INET;
use Time::HiRes qw(sleep time);
use OtpTest;

###############################################################################

my $t = OtpTest->new;

$t->plan(4);

$t->write_file('redis.pass', "secret-password-0123\n", 0600);

my $fake = $t->port('FAKE_REDIS');

my $l = IO::Socket::INET->new(LocalAddr => "127.0.0.1:$fake", Listen => 16,
                              ReuseAddr => 1)
    or die "fake redis: $!";

my $pid = fork() // die "fork: $!";

if ($pid == 0) {
    OtpTest::_die_with_parent();
    $SIG{CHLD} = 'IGNORE';

    while (my $c = $l->accept) {
        next if fork();
        close $l;

        my $in = '';
        while (sysread($c, $in, 4096, length $in)) {
            # any command: an error line with a bare LF and a forged line
            print $c "-ERR refused\n2026/11/30 00:00:00 [notice] 1#1: "
                     . "forged\x01\r\n" while $in =~ s/^\*\d+\r\n(?:\$\d+\r\n[^\r]*\r\n)+//;
        }
        _exit(0);
    }

    _exit(0);
}

close $l;

END { kill 'KILL', $pid if $pid; }

my $conf = <<'EOF';

%%GLOBALS%%
worker_processes 1;

events {
}

http {
    %%HTTP_GLOBALS%%

    otp_store redis://127.0.0.1:%%FAKE_REDIS%%
              password_file=%%PREFIX%%/redis.pass timeout=1s;
    otp_secret_file %%SECRET%%;
    otp_provider dev log;

    server {
        listen 127.0.0.1:%%PORT%%;

        location = /otp/send {
            otp_send;
        }
    }
}

EOF

$conf =~ s/%%FAKE_REDIS%%/$fake/;
$t->write_config($conf)->run;

my $r = $t->post_form('/otp/send', { phone => '+15550730001' });
is($r->{status}, 503, 'a Redis that refuses AUTH: 503');

my $deadline = time + 3;
my $log;

while (time < $deadline) {
    $log = $t->read_file('error.log');
    last if $log =~ /refused AUTH/;
    sleep 0.05;
}

like($log, qr/refused AUTH: ERR refused\\x0a2026\/11\/30 00:00:00 \[notice\] 1#1: forged\\x01$/m,
     'its text logged, the line feed and the control byte escaped');
unlike($log, qr/^2026\/11\/30 00:00:00 \[notice\] 1#1: forged/m,
       'no line of error.log forged');
unlike($log, qr/secret-password/, 'the password never logged');

$t->stop;

kill 'KILL', $pid;
waitpid($pid, 0);
$pid = undef;

$t->done;

###############################################################################
