#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# A Redis that requires a password: password_file= gives it (AUTH is the
# first command on every connection, before the scripts load), codes are
# sent and verified; with a wrong password the store is unavailable and
# every send and verify fails closed with 503, and the password itself is
# never logged.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use IO::Socket::INET;
use OtpTest;

###############################################################################

my $password = 'pw-' . join('', map { ('a'..'z')[rand 26] } 1 .. 24);

my $t = OtpTest->new->need_redis;

$t->plan(9);

my $conf = <<'EOF';

%%GLOBALS%%
worker_processes 1;

events {
}

http {
    %%HTTP_GLOBALS%%

    otp_store redis://127.0.0.1:%%REDIS_PORT%%/0
              password_file=%%PREFIX%%/redis.pass timeout=1s;
    otp_secret_file %%SECRET%%;
    otp_provider dev log;

    server {
        listen 127.0.0.1:%%PORT%%;

        otp_client_limit off;
        otp_resend_after 0s;

        location = /otp/send {
            otp_send;
        }

        location = /otp/verify {
            otp_verify;
        }
    }
}

EOF

$t->start_redis;
$t->redis_command('CONFIG', 'SET', 'requirepass', $password);
$t->write_file('redis.pass', "$password\n", 0600);
$t->write_config($conf, store => 'redis');

# the harness's readiness check talks to Redis without a password
$t->run(store_wait => 0);

###############################################################################

# the worker authenticates; a send that comes during the handshake waits

my $r = $t->post_form('/otp/send', { phone => '+15551230001' });
is($r->{status}, 202, 'right password: send 202');

my $code = $t->code_for($r->{json}{message_id});

$r = $t->post_form('/otp/verify', { phone => '+15551230001',
                                    code => $code });
is($r->{status}, 200, 'right password: the code verifies');
ok($r->{json}{verified}, 'right password: verified');

###############################################################################

# a password that ends in blanks: the file loses its line ending only
# (a reader that dropped trailing white space sent a wrong password)

my $blank = "$password \t ";

$t->stop;
{
    # AUTH and CONFIG SET on one connection
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1:'
                                              . $t->port('REDIS_PORT'))
        or die "redis: $!";
    print $s join '', map { '*' . @$_ . "\r\n"
                            . join('', map { '$' . length($_) . "\r\n$_\r\n" }
                                       @$_) }
                          ['AUTH', $password],
                          ['CONFIG', 'SET', 'requirepass', $blank];
    my $in = '';
    while ($in !~ /\r\n.*\r\n/s) {
        sysread($s, $in, 1024, length $in) or last;
    }
    is($in, "+OK\r\n+OK\r\n", 'the password now ends in blanks');
}
$t->write_file('redis.pass', "$blank\r\n", 0600);
$t->run(store_wait => 0);

$r = $t->post_form('/otp/send', { phone => '+15551230003' });
is($r->{status}, 202, 'a password ending in blanks: send 202');

$r = $t->post_form('/otp/verify', {
    phone => '+15551230003',
    code => $t->code_for($r->{json} ? $r->{json}{message_id} : undef) // '',
});
is($r->{status}, 200, 'a password ending in blanks: the code verifies');

###############################################################################

# a wrong password: Redis refuses AUTH, and the store fails closed

$t->stop;
$t->write_file('redis.pass', "wrong-password\n", 0600);
$t->run(store_wait => 0);

$r = $t->post_form('/otp/send', { phone => '+15551230002' });
is($r->{status} . ' ' . ($r->{json}{error} // ''), '503 store_unavailable',
   'wrong password: send fails closed');

$r = $t->post_form('/otp/verify', { phone => '+15551230001',
                                    code => '123456' });
is($r->{status} . ' ' . ($r->{json}{error} // ''), '503 store_unavailable',
   'wrong password: verify fails closed');

unlike($t->read_file('error.log'), qr/\Q$password\E|wrong-password/,
       'no password in the error log');

$t->stop;
$t->stop_redis;

$t->done;
