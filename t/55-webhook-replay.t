#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# otp_signature standard_webhooks refuses a replay (Standard Webhooks: a
# receiver SHOULD refuse a webhook-id it has accepted within the
# tolerance), on both stores, guarding a location that proxy_passes to an
# application (the mock server, which records what reaches it): the same
# valid call twice is 200 then 403 invalid_signature, and the application
# saw it once; another id passes; the same id from another sender (another
# secret_file) passes; of the same call sent eight times at once exactly
# one passes; replay=off lets the same call through twice; an internal
# redirect after the check (try_files to a named location with the same
# sender's check) does not meet its own id as a replay; the same over
# HTTP/2.  With tolerance=1s the id is remembered 2 s: after that the old
# call is refused as expired, and the same id freshly signed passes.  The
# refusal is logged at info with the id's length and prefix, never the
# whole id.  Redis hung: 503 after its timeout, and a client gone
# mid-wait cancels the operation; Redis stopped: 503 store_unavailable
# (fail closed).  A full shm zone answers 503 for a new id and evicts none
# of those it holds.  No otp_secret_file, no provider: a guard alone gets
# the store it needs.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Digest::SHA qw(hmac_sha256);
use MIME::Base64 qw(encode_base64);
use IO::Socket::INET;
use Time::HiRes qw(sleep);
use OtpTest;
use MockProvider;

###############################################################################

my $t = OtpTest->new;

my @stores = $t->stores;

$t->plan(30 * @stores + (grep { $_ eq 'redis' } @stores) * 5 + 3);

my $mock = MockProvider->new(dir => $t->dir);
$mock->on(qr{^/app/} => { status => 200, body => { app => 'ok' } });

my $KEY = 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
my $OTHER_KEY = 'Zm9vYmFyYmF6cXV4cXV1eDEyMzQ1Njc4';

$t->write_file('a.secret', 'whsec_' . encode_base64($KEY, '') . "\n", 0600);
$t->write_file('b.secret',
               'whsec_' . encode_base64($OTHER_KEY, '') . "\n", 0600);

my $conf = <<'EOF';

%%GLOBALS%%
worker_processes 2;

events {
}

http {
    %%HTTP_GLOBALS%%

    %%STORE%%

    server {
        listen 127.0.0.1:%%PORT%%;
        listen 127.0.0.1:%%PORT3%% http2;

        location /app/a/ {
            otp_signature standard_webhooks
                          secret_file=%%PREFIX%%/a.secret tolerance=5m;
            proxy_pass @MOCK@;
        }

        location /app/b/ {
            otp_signature standard_webhooks
                          secret_file=%%PREFIX%%/b.secret;
            proxy_pass @MOCK@;
        }

        location /app/short/ {
            otp_signature standard_webhooks
                          secret_file=%%PREFIX%%/a.secret tolerance=1s;
            proxy_pass @MOCK@;
        }

        location /app/off/ {
            otp_signature standard_webhooks
                          secret_file=%%PREFIX%%/a.secret replay=off;
            proxy_pass @MOCK@;
        }
    }

    server {
        listen 127.0.0.1:%%PORT2%%;

        location /app/redir/ {
            otp_signature standard_webhooks
                          secret_file=%%PREFIX%%/a.secret;
            try_files /nothing-here @app;
        }

        location @app {
            otp_signature standard_webhooks
                          secret_file=%%PREFIX%%/a.secret;
            proxy_pass @MOCK@;
        }
    }
}

EOF

$conf =~ s/\@MOCK\@/$mock->url/ge;

###############################################################################

sub sign {
    my ($key, $id, $ts, $body) = @_;
    return 'v1,' . encode_base64(hmac_sha256("$id.$ts.$body", $key), '');
}

# a shm zone that fills with ids: full, it refuses, and evicts none
(my $tiny = $conf) =~ s/%%STORE%%/otp_store shm:tiny:32k;/;

# one Standard Webhooks call, signed with $key (default: a.secret's)
sub call {
    my ($path, $id, %o) = @_;
    return $t->raw(request($path, $id, %o),
                   $o{port} ? (port => $t->port($o{port})) : ());
}

sub request {
    my ($path, $id, %o) = @_;

    my $ts = $o{ts} // time;
    my $body = $o{body} // qq{{"type":"message.delivered","id":"$id"}};
    my $sig = sign($o{key} // $KEY, $id, $ts, $body);

    my $req = "POST $path HTTP/1.1\r\nHost: localhost\r\n"
              . "Connection: close\r\nContent-Type: application/json\r\n"
              . "webhook-id: $id\r\nwebhook-timestamp: $ts\r\n"
              . "webhook-signature: $sig\r\n"
              . 'Content-Length: ' . length($body) . "\r\n\r\n$body";

    return $req;
}

# how many calls reached the application on a path
sub app_count {
    my ($path) = @_;
    return scalar grep { $_->{path} eq $path } $mock->requests(qr{^/app/});
}

sub passed {
    my ($r, $name) = @_;
    is($r->{status}, 200, $name) or diag($r->{raw});
}

sub refused {
    my ($r, $name) = @_;
    ok($r->{status} == 403 && $r->{json}
       && $r->{json}{error} eq 'invalid_signature', $name)
        or diag($r->{raw});
}

###############################################################################

for my $store (@stores) {

    $t->write_config($conf, store => $store)->run;

    my $logged = length($t->read_file('error.log') // '');

    my $p = "/app/a/$store";
    my $id = "msg_$store" . '_replayed_0123456789abcdef';
    my $now = time;

    # the same call twice

    passed(call($p, $id, ts => $now), "$store: a valid call passes");
    refused(call($p, $id, ts => $now),
            "$store: the same call again 403 invalid_signature");
    $mock->wait_requests(1, qr{^\Q$p\E$}, 3);
    is(app_count($p), 1, "$store: the application saw it once");

    refused(call($p, $id), "$store: the same id with another timestamp, "
                           . "signed again, 403");
    refused(call($p, $id, body => '{"other":1}'),
            "$store: the same id with another body 403");
    is(app_count($p), 1, "$store: the application still saw it once");

    passed(call($p, "msg_${store}_2"), "$store: another id passes");
    $mock->wait_requests(2, qr{^\Q$p\E$}, 3);
    is(app_count($p), 2, "$store: and reaches the application");

    # the same id from another sender, and through another location of
    # the same sender

    passed(call("/app/b/$store", $id, key => $OTHER_KEY, ts => $now),
           "$store: the same id from another sender (another secret_file) "
           . 'passes');
    refused(call("/app/b/$store", $id, key => $OTHER_KEY, ts => $now),
            "$store: and is refused from it the second time");
    refused(call("/app/short/$store", $id),
            "$store: a location with the same secret_file knows the id");

    # replay=off

    passed(call("/app/off/$store", "msg_${store}_off", ts => $now),
           "$store: replay=off: a valid call passes");
    passed(call("/app/off/$store", "msg_${store}_off", ts => $now),
           "$store: replay=off: and passes again");

    # exactly one of eight identical calls at once (two workers)

    my $cp = "/app/a/$store/race";
    my @r = $t->concurrently(8, sub { call($cp, "msg_${store}_race",
                                           ts => $now) });
    is(scalar(grep { $_->{status} == 200 } @r), 1,
       "$store: eight identical calls at once: one 200");
    is(scalar(grep { $_->{status} == 403 } @r), 7,
       "$store: and seven 403");
    $mock->wait_requests(1, qr{^\Q$cp\E$}, 3);
    is(app_count($cp), 1, "$store: the application saw one");

    # an internal redirect after the check does not replay the id

    my $rp = "/app/redir/$store";
    passed(call($rp, "msg_${store}_redir", port => 'PORT2'),
           "$store: try_files to a named location with the same check "
           . 'passes');
    $mock->wait_requests(1, qr{^\Q$rp\E$}, 3);
    is(app_count($rp), 1, "$store: the application got it once");
    refused(call($rp, "msg_${store}_redir", port => 'PORT2'),
            "$store: and a replay to it 403");

    # over HTTP/2, where nginx reads the body its own way

    my $hp = "/app/a/$store/h2";
    my $hid = "msg_${store}_h2";
    my $hts = time;
    my $hbody = qq{{"h2":"$store"}};
    my %hh = ('webhook-id' => $hid, 'webhook-timestamp' => $hts,
              'webhook-signature' => sign($KEY, $hid, $hts, $hbody));
    my @h2 = (h2 => 1, port => $t->port('PORT3'), headers => \%hh);

    passed($t->post($hp, 'application/json', $hbody, @h2),
           "$store: HTTP/2: a valid call passes");
    refused($t->post($hp, 'application/json', $hbody, @h2),
            "$store: HTTP/2: the same call again 403");
    $mock->wait_requests(1, qr{^\Q$hp\E$}, 3);
    is(app_count($hp), 1, "$store: HTTP/2: the application saw it once");

    # tolerance=1s: the id is remembered 2 s, as long as its timestamp
    # could pass; after that the old call is refused as expired, and the
    # id freshly signed passes (coarse: 2.5 s of sleep)

    my $sp = "/app/short/$store/ttl";
    my $sid = "msg_${store}_ttl";
    my $sts = time;

    passed(call($sp, $sid, ts => $sts), "$store: tolerance=1s: passes");
    refused(call($sp, $sid, ts => $sts), "$store: tolerance=1s: replay 403");

    sleep 2.5;

    refused(call($sp, $sid, ts => $sts),
            "$store: after the TTL the old call is refused (expired)");
    passed(call($sp, $sid),
           "$store: after the TTL the id with a fresh timestamp passes");
    $mock->wait_requests(2, qr{^\Q$sp\E$}, 3);
    is(app_count($sp), 2, "$store: the application saw the two accepted");

    # the log: a replay at info, with the id's length and prefix only

    my $log = substr($t->read_file('error.log'), $logged);
    my $n = length $id;
    my $prefix = substr $id, 0, 8;
    my $replay = 'refused: a replay of a webhook-id accepted before';
    like($log, qr/\[info\].*\Q$replay\E \($n bytes, "\Q$prefix\E\.\.\."\)/,
         "$store: the replay logged at info, the id's length and prefix");
    # (nginx's debug lines hold the headers, on lines of their own)
    my @full = grep { /\[(?:info|notice|warn|error)\]/ && /\Q$id\E/ }
               split /\n/, $log;
    is(scalar(@full), 0, "$store: the whole id is not in the log")
        or diag(join "\n", @full);
    my $expired = 'refused: webhook-timestamp outside the tolerance';
    like($log, qr/\[info\].*\Q$expired\E/,
         "$store: the old call after the TTL refused as expired");

    # Redis hung (SIGSTOP), then down: fail closed; a client that goes
    # away while its check waits for Redis cancels the operation

    if ($store eq 'redis') {
        kill 'STOP', $t->{redis_pid};

        my $hp = "/app/a/$store/hung";
        my $r = call($hp, "msg_${store}_hung");
        ok($r->{status} == 503 && $r->{json}
           && $r->{json}{error} eq 'store_unavailable',
           "$store: Redis hung: a valid call 503 store_unavailable "
           . '(timeout=1s)')
            or diag($r->{raw});

        $logged = length($t->read_file('error.log'));

        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $t->port)
            or die "connect: $!";
        print $s request($hp, "msg_${store}_gone");
        sleep 0.3;
        close $s;

        my $gone;
        for (1 .. 20) {
            $gone = substr($t->read_file('error.log'), $logged)
                    =~ /otp webhook request gone: cancel op/;
            last if $gone;
            sleep 0.1;
        }
        ok($gone, "$store: Redis hung: a client gone mid-wait cancels "
                  . 'the operation');

        kill 'CONT', $t->{redis_pid};

        is(app_count($hp), 0, "$store: Redis hung: the application saw "
                              . 'nothing');

        $t->stop_redis;

        my $dp = "/app/a/$store/down";
        $r = call($dp, "msg_${store}_down");
        ok($r->{status} == 503 && $r->{json}
           && $r->{json}{error} eq 'store_unavailable',
           "$store: Redis down: a valid call 503 store_unavailable")
            or diag($r->{raw});
        is(app_count($dp), 0, "$store: Redis down: the application saw "
                              . 'nothing');
    }

    $t->stop;
}

# A full shm zone: a new id is 503 (fail closed), and the ids it holds are
# never evicted to make room: the first one is still refused as a replay

$t->write_config($tiny)->run;

my ($n, $r);
for (1 .. 2000) {
    $r = call('/app/a/full', "msg_full_$_");
    $n = $_;
    last if $r->{status} != 200;
}

ok($r->{status} == 503 && $r->{json}
   && $r->{json}{error} eq 'store_unavailable',
   "a full zone: a new id 503 store_unavailable after $n calls")
    or diag($r->{raw});
refused(call('/app/a/full', 'msg_full_1'),
        'a full zone: the first id is still refused (no eviction)');
$mock->wait_requests($n - 1, qr{^/app/a/full$}, 3);
is(app_count('/app/a/full'), $n - 1,
   'a full zone: the application saw the ids accepted, no more');

$t->stop;

$t->done;

###############################################################################
