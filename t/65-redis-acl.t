#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# The Redis store as a Redis 6 ACL user with the smallest set of commands
# the module needs (the README's ACL SETUSER line, repeated below):
# username= and password_file= make every connection (the store's and the
# subscriber's) AUTH as that user; a send, a verify, a resend (the old code
# stops working), a Twilio status callback waking a long-poll, a Standard
# Webhooks replay check and the delivery analytics (the endpoint's read,
# otp_smart_channels' summed one) all work through it, and neither the
# module's log nor Redis's ACL LOG shows a refused command (NOPERM).  A
# wrong user name fails closed (503), and the password is never logged.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Digest::SHA qw(hmac_sha1_base64 hmac_sha256);
use MIME::Base64 qw(encode_base64);
use POSIX qw(_exit);
use Time::HiRes qw(sleep time);
use OtpTest;
use MockProvider qw(form_hash);

###############################################################################

my $t = OtpTest->new->need_redis;

$t->plan(17);

my $mock = MockProvider->new(dir => $t->dir);
$mock->on(qr{^/app/} => { status => 200, body => { app => 'ok' } });

my $password = 'pw-' . join('', map { ('a'..'z')[rand 26] } 1 .. 24);
my $AC = 'ACa1b2c3d4e5f60718293a4b5c6d7e8f90';
my $TOKEN = 'tok1c0ffee5ecret0ddba11deadbeefab';
my $PUBLIC = 'https://otp.example.com/api';
my $KEY = 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

# the README's line: what the module sends, and what its scripts call
my @acl = (qw/ACL SETUSER otp on/, ">$password", qw/resetkeys ~otp:*
    resetchannels &otp:status -@all +select +info +script|load +evalsha
    +eval +wait +role +subscribe +time +exists +hget +hmget +hset +hdel
    +hincrby +hgetall +hlen +hscan +incr +set +del +pexpire +pexpireat
    +publish/);

my $conf = <<'EOF2';

%%GLOBALS%%
worker_processes 2;

events {
}

http {
    %%HTTP_GLOBALS%%

    otp_store redis://127.0.0.1:%%REDIS_PORT%%/3 username=@USER@
              password_file=%%PREFIX%%/redis.pass timeout=2s;
    otp_secret_file %%SECRET%%;
    otp_public_url @PUBLIC@;

    otp_provider tw twilio account_sid=@AC@ auth_token=@TOKEN@
                 from=+15005550006 base_url=@MOCK@;

    otp_smart_window 1h refresh=1s;

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

        location /otp/status/ {
            otp_status;
        }

        location = /hooks/twilio {
            otp_webhook tw;
        }

        location = /otp/analytics {
            otp_analytics;
        }

        location = /otp/send-smart {
            otp_smart_channels on;
            otp_send;
        }

        location /app/ {
            otp_signature standard_webhooks
                          secret_file=%%PREFIX%%/app.secret;
            proxy_pass @MOCK@;
        }
    }
}

EOF2

sub config {
    my ($user) = @_;
    my %subst = (MOCK => $mock->url, AC => $AC, TOKEN => $TOKEN,
                 PUBLIC => $PUBLIC, USER => $user);
    (my $c = $conf) =~ s/@(\w+)@/$subst{$1}/g;
    return $c;
}

sub redis { $t->redis_command(@_) // 'no answer' }

$t->start_redis;
is(redis(@acl), 'OK', 'the ACL user is created');
redis('ACL', 'LOG', 'RESET');

$t->write_file('redis.pass', "$password\n", 0600);
$t->write_file('app.secret', 'whsec_' . encode_base64($KEY, '') . "\n",
               0600);
$t->write_config(config('otp'), store => 'redis');
$t->run;

###############################################################################

my $SMS = qr/verification code is (\d{6})/;

# a send through Twilio's mock: the sid and the code the phone got
sub send_to {
    my ($phone) = @_;
    $mock->clear_requests;
    my $r = $t->post_form('/otp/send', { phone => $phone });
    my ($req) = $mock->requests(qr{/Messages\.json$});
    my %f = form_hash($req ? $req->{body} : '');
    my ($code) = ($f{Body} // '') =~ $SMS;
    $t->uses_code($code) if defined $code;
    return ($r, $r->{json} ? $r->{json}{message_id} : undef, $code);
}

sub verify {
    my ($phone, $code) = @_;
    return $t->post_form('/otp/verify', { phone => $phone,
                                          code => $code // '000000' });
}

sub esc {
    my ($s) = @_;
    $s =~ s/([^A-Za-z0-9\-._~])/sprintf('%%%02X', ord $1)/ge;
    return $s;
}

sub twilio {
    my (%p) = @_;
    my $url = "$PUBLIC/hooks/twilio";
    my $sig = hmac_sha1_base64($url . join('', map { $_ . $p{$_} }
                                                sort keys %p), $TOKEN);
    $sig .= '=' while length($sig) % 4;
    return $t->post('/hooks/twilio', 'application/x-www-form-urlencoded',
                    join('&', map { esc($_) . '=' . esc($p{$_}) }
                              sort keys %p),
                    headers => { 'X-Twilio-Signature' => $sig });
}

sub long_poll {
    my ($id) = @_;
    pipe(my $r, my $w) or die "pipe: $!";
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        close $r;
        my $start = time;
        my $res = $t->get("/otp/status/$id?wait=10", timeout => 20);
        syswrite $w, sprintf("%s %s %.2f\n", $res->{status},
                             $res->{json} ? $res->{json}{status} // '' : '',
                             time - $start);
        _exit(0);
    }
    close $w;
    return { pid => $pid, fh => $r };
}

sub answer {
    my ($poll) = @_;
    my $fh = $poll->{fh};
    my $line = <$fh> // '0 none 0';
    waitpid($poll->{pid}, 0);
    chomp $line;
    return split / /, $line;
}

sub webhook {
    my ($id) = @_;
    my $ts = time;
    $ts = int $ts;
    my $body = qq{{"type":"message.delivered","id":"$id"}};
    my $sig = 'v1,' . encode_base64(hmac_sha256("$id.$ts.$body", $KEY), '');
    return $t->raw("POST /app/hook HTTP/1.1\r\nHost: localhost\r\n"
                   . "Connection: close\r\nContent-Type: application/json\r\n"
                   . "webhook-id: $id\r\nwebhook-timestamp: $ts\r\n"
                   . "webhook-signature: $sig\r\n"
                   . 'Content-Length: ' . length($body) . "\r\n\r\n$body");
}

###############################################################################

# send, verify

my ($r, $sid, $code) = send_to('+15550100001');
is($r->{status}, 202, 'as the ACL user: send 202');
is(verify('+15550100001', $code)->{status}, 200,
   'as the ACL user: the code verifies');

# resend: the new code replaces the old

my ($r1, $sid1, $old) = send_to('+15550100002');
my ($r2, $sid2, $new) = send_to('+15550100002');
is("$r1->{status} $r2->{status}", '202 202', 'as the ACL user: a resend');
$r = verify('+15550100002', $old);
is($r->{status} . ' ' . ($r->{json} ? $r->{json}{error} // '' : ''),
   $old eq $new ? '200 ' : '401 invalid_code',
   'as the ACL user: the first code no longer verifies');
is(verify('+15550100002', $new)->{status}, 200,
   'as the ACL user: the resent code verifies');

# a status callback wakes a long-poll (the subscriber, as the ACL user)

my $poll = long_poll($sid2);
sleep 0.5;
$r = twilio(MessageSid => $sid2, MessageStatus => 'delivered',
            AccountSid => $AC);
is($r->{status}, 200, 'as the ACL user: a status callback 200');
my ($http, $status, $took) = answer($poll);
is("$http $status", '200 delivered',
   'as the ACL user: the callback wakes the long-poll');
ok($took < 8, 'the long-poll woken, not timed out') or diag("took $took s");

# a Standard Webhooks replay

like(webhook('msg_acl_1')->{raw}, qr{^HTTP/1\.1 200 },
     'as the ACL user: a webhook passes');
like(webhook('msg_acl_1')->{raw}, qr{^HTTP/1\.1 403 },
     'as the ACL user: its replay is refused');

# the analytics: the endpoint's read, and smart's summed one (its
# refresh=1s has run by now)

$r = $t->get('/otp/analytics');
is(($r->{status} // '') . ' ' . ($r->{json} ? $r->{json}{totals}{sent} : ''),
   '200 3', 'as the ACL user: the analytics read');

# nothing was refused

is(join("\n", grep { !/\[debug\]/
                     && /NOPERM|no permissions|otp redis.*refused/i }
              split /\n/, $t->read_file('error.log')), '',
   'no refusal in the error log');
is(redis('ACL', 'LOG'), '', 'Redis\'s ACL LOG is empty');

# the store's connections and the subscriber's are the ACL user's

my @clients = grep { !/cmd=client/ } split /\n/, redis('CLIENT', 'LIST');
is(join(' ', sort map { /\buser=(\S+)/ ? $1 : '?' } @clients),
   'otp otp otp' . (@clients > 3 ? ' otp' : ''),
   'every connection of the module is the ACL user\'s');

###############################################################################

# a wrong user: AUTH fails, the store fails closed

$t->stop;
$t->write_config(config('nobody'), store => 'redis');
$t->run(store_wait => 0);

($r) = send_to('+15550100003');
is($r->{status} . ' ' . ($r->{json} ? $r->{json}{error} : ''),
   '503 store_unavailable', 'a wrong user: send fails closed');

unlike($t->read_file('error.log'), qr/\Q$password\E/,
       'no password in the error log');

$t->done;
