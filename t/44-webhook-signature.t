#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# otp_signature in the access phase, guarding locations that proxy_pass to
# an application (here the mock server, which records what it receives):
# for each scheme (Twilio, Meta, Africa's Talking, Standard Webhooks) a
# valid call reaches the application with its body byte for byte, and a
# missing header, a wrong secret, a tampered or an extra parameter, another
# URL, one byte of the body changed answer 403 invalid_signature while the
# application sees nothing.  Also: Twilio's URL with and without the port,
# from otp_public_url, with X-Forwarded-Proto from a trusted and from an
# untrusted address, and the bodySHA256 variant; Meta's handshake; Africa's
# Talking's secret by argument, header and Basic auth, and its allow-list;
# the Standard Webhooks tolerance; a body in several parts, in a temporary
# file, too large; one call over HTTP/2; and what nginx -t refuses.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Digest::SHA qw(hmac_sha1_base64 hmac_sha256_hex hmac_sha256 sha256_hex);
use MIME::Base64 qw(encode_base64);
use OtpTest;
use MockProvider;

###############################################################################

my $t = OtpTest->new;

$t->plan(102);

my $mock = MockProvider->new(dir => $t->dir);
$mock->on(qr{^/app/} => { status => 200, body => { app => 'ok' } });

my $AC = 'ACa1b2c3d4e5f60718293a4b5c6d7e8f90';
my $TOKEN = 'tok1c0ffee5ecret0ddba11deadbeefab';
my $APP_SECRET = 'meta-app-secret-0123456789abcdef';
my $VERIFY = 'verify-me-please';
my $AT_SECRET = 'at-hook-secret-42';
my $WH_KEY = 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
my $WH_SECRET = 'whsec_' . encode_base64($WH_KEY, '');

$t->write_file('meta.secret', "$APP_SECRET\n", 0600);
$t->write_file('stdwh.secret', "$WH_SECRET\n", 0600);

my $conf = <<'EOF';

%%GLOBALS%%
worker_processes 1;

events {
}

http {
    %%HTTP_GLOBALS%%

    otp_provider tw twilio account_sid=@AC@ auth_token=@TOKEN@
                 from=+15005550006 base_url=@MOCK@;

    otp_provider wa meta_whatsapp phone_number_id=106540352242922
                 token=metatoken template=otp_login
                 app_secret_file=%%PREFIX%%/meta.secret
                 verify_token=@VERIFY@ base_url=@MOCK@;

    otp_provider at africastalking username=sandbox api_key=atkey
                 webhook_secret=@AT_SECRET@ webhook_allow=127.0.0.0/8,::1
                 base_url=@MOCK@;

    otp_provider at_far africastalking username=sandbox api_key=atkey
                 webhook_secret=@AT_SECRET@ webhook_allow=10.0.0.0/8
                 base_url=@MOCK@;

    server {
        listen 127.0.0.1:%%PORT%%;
        listen 127.0.0.1:%%PORT4%% http2;

        # above the webhooks' default otp_body_limit (1m), for its 413
        client_max_body_size 4m;

        location /app/twilio/ {
            otp_signature tw;
            proxy_pass @MOCK@;
        }

        location /app/small/ {
            otp_signature tw;
            client_body_buffer_size 1k;
            proxy_pass @MOCK@;
        }

        location /app/meta/ {
            otp_signature wa;
            proxy_pass @MOCK@;
        }

        location /app/limited/ {
            otp_signature wa;
            otp_body_limit 1k;
            proxy_pass @MOCK@;
        }

        location /app/any/ {
            satisfy any;
            allow 127.0.0.0/8;
            deny all;
            otp_signature wa;
            proxy_pass @MOCK@;
        }

        location /app/anydeny/ {
            satisfy any;
            deny all;
            otp_signature wa;
            proxy_pass @MOCK@;
        }

        location /app/alldeny/ {
            deny all;
            otp_signature wa;
            proxy_pass @MOCK@;
        }

        location /app/at/ {
            otp_signature at;
            proxy_pass @MOCK@;
        }

        location /app/far/ {
            otp_signature at_far;
            proxy_pass @MOCK@;
        }

        location /app/stdwh/ {
            otp_signature standard_webhooks
                          secret_file=%%PREFIX%%/stdwh.secret tolerance=5m;
            proxy_pass @MOCK@;
        }

        location /app/open/ {
            proxy_pass @MOCK@;
        }
    }

    server {
        listen 127.0.0.1:%%PORT2%%;

        otp_public_url https://hooks.example.com/base/;

        location /app/twilio/ {
            otp_signature tw;
            proxy_pass @MOCK@;
        }
    }

    server {
        listen 127.0.0.1:%%PORT3%%;

        otp_trusted_proxies 127.0.0.0/8;

        location /app/twilio/ {
            otp_signature tw;
            proxy_pass @MOCK@;
        }
    }
}

EOF

my %subst = (MOCK => $mock->url, AC => $AC, TOKEN => $TOKEN,
             VERIFY => $VERIFY, AT_SECRET => $AT_SECRET);
$conf =~ s/@(\w+)@/$subst{$1}/g;

$t->write_config($conf)->run;

###############################################################################

sub esc {
    my ($s) = @_;
    $s =~ s/([^A-Za-z0-9\-._~])/sprintf('%%%02X', ord $1)/ge;
    return $s;
}

sub form {
    my (@pairs) = @_;
    my @out;
    while (my ($k, $v) = splice @pairs, 0, 2) {
        push @out, esc($k) . '=' . esc($v);
    }
    return join '&', @out;
}

# Twilio's algorithm, as its documentation gives it
sub twilio_sig {
    my ($token, $url, @pairs) = @_;

    my %p;
    while (my ($k, $v) = splice @pairs, 0, 2) {
        push @{ $p{$k} }, $v;
    }

    my $data = $url;
    for my $k (sort keys %p) {
        my %seen;
        $data .= $k . $_ for sort grep { !$seen{$_}++ } @{ $p{$k} };
    }

    my $sig = hmac_sha1_base64($data, $token);
    $sig .= '=' while length($sig) % 4;
    return $sig;
}

# one HTTP/1.1 request with the headers given (Host included)
sub call {
    my ($method, $path, $body, %h) = @_;

    my $port = delete $h{port};
    my $host = delete $h{Host} // 'localhost';

    my $req = "$method $path HTTP/1.1\r\nHost: $host\r\nConnection: close\r\n";
    $req .= "$_: $h{$_}\r\n" for sort keys %h;
    $req .= 'Content-Length: ' . length($body) . "\r\n" if defined $body;
    $req .= "\r\n" . ($body // '');

    return $t->raw($req, $port ? (port => $t->port($port)) : ());
}

# the app saw a request on path since the count n, body intact
my $seen = 0;

sub app_got {
    my ($path, $body, $name) = @_;

    my @r = $mock->wait_requests($seen + 1, qr{^/app/}, 3);
    my $new = @r > $seen ? $r[-1] : undef;
    $seen = @r;

    ok($new && $new->{path} eq $path && $new->{body} eq $body, $name)
        or diag(explain($new));
}

sub app_saw_nothing {
    my ($name) = @_;

    my @r = $mock->requests(qr{^/app/});
    is(scalar(@r), $seen, $name);
    $seen = @r;
}

sub refused {
    my ($r, $name) = @_;

    ok($r->{status} == 403 && $r->{json}
       && $r->{json}{error} eq 'invalid_signature', "$name: 403")
        or diag($r->{raw});
    app_saw_nothing("$name: the app saw nothing");
}

###############################################################################

# Twilio

my @params = (MessageSid => 'SM1234567890abcdef1234567890abcdef',
              MessageStatus => 'delivered', To => '+15005550006',
              AccountSid => $AC, Body => "Hi + & = caf\xc3\xa9");
my $body = form(@params);
my $path = '/app/twilio/status?src=nginx&v=1';
my $url = "http://localhost$path";
my $ct = 'application/x-www-form-urlencoded';

my $r = call(POST => $path, $body, 'Content-Type' => $ct,
             'X-Twilio-Signature' => twilio_sig($TOKEN, $url, @params));
is($r->{status}, 200, 'twilio: a valid call passes');
app_got('/app/twilio/status', $body, 'twilio: the app got the body intact');

refused(call(POST => $path, $body, 'Content-Type' => $ct),
        'twilio: no signature');

refused(call(POST => $path, $body, 'Content-Type' => $ct,
             'X-Twilio-Signature' => twilio_sig('wrong' . $TOKEN, $url,
                                                @params)),
        'twilio: wrong auth token');

my @tampered = @params;
$tampered[3] = 'failed';
refused(call(POST => $path, form(@tampered), 'Content-Type' => $ct,
             'X-Twilio-Signature' => twilio_sig($TOKEN, $url, @params)),
        'twilio: a parameter changed');

refused(call(POST => $path, form(@params, ErrorCode => '30003'),
             'Content-Type' => $ct,
             'X-Twilio-Signature' => twilio_sig($TOKEN, $url, @params)),
        'twilio: a parameter added');

refused(call(POST => '/app/twilio/other?src=nginx&v=1', $body,
             'Content-Type' => $ct,
             'X-Twilio-Signature' => twilio_sig($TOKEN, $url, @params)),
        'twilio: another URL');

# the port: Twilio's validators accept the URL with it and without it

$r = call(POST => $path, $body, 'Content-Type' => $ct,
          'X-Twilio-Signature' =>
              twilio_sig($TOKEN, "http://localhost:80$path", @params));
is($r->{status}, 200, 'twilio: signed with the default port, received '
                      . 'without');
app_got('/app/twilio/status', $body, 'twilio: with the port: passed on');

my $hp = 'localhost:' . $t->port('PORT');
$r = call(POST => $path, $body, 'Content-Type' => $ct, Host => $hp,
          'X-Twilio-Signature' =>
              twilio_sig($TOKEN, "http://$hp$path", @params));
is($r->{status}, 200, 'twilio: a Host with its port');
app_got('/app/twilio/status', $body, 'twilio: Host with port: passed on');

# several values of a name

my @multi = (MessageSid => 'SMaaaa', Media => 'b', Media => 'a',
             Media => 'b');
$r = call(POST => $path, form(@multi), 'Content-Type' => $ct,
          'X-Twilio-Signature' => twilio_sig($TOKEN, $url, @multi));
is($r->{status}, 200, 'twilio: a name with several values');
app_got('/app/twilio/status', form(@multi), 'twilio: several values: passed');

# the JSON variant: the URL signed, bodySHA256 its hash

my $json = '{"MessageSid":"SMbbbb","MessageStatus":"read"}';
my $jpath = '/app/twilio/json?bodySHA256=' . sha256_hex($json);
$r = call(POST => $jpath, $json, 'Content-Type' => 'application/json',
          'X-Twilio-Signature' =>
              twilio_sig($TOKEN, "http://localhost$jpath"));
is($r->{status}, 200, 'twilio: bodySHA256 variant passes');
app_got('/app/twilio/json', $json, 'twilio: bodySHA256: body intact');

(my $json2 = $json) =~ s/read/reae/;
refused(call(POST => $jpath, $json2, 'Content-Type' => 'application/json',
             'X-Twilio-Signature' =>
                 twilio_sig($TOKEN, "http://localhost$jpath")),
        'twilio: bodySHA256 with one byte of the body changed');

# otp_public_url: the URL Twilio was given, not the one received

$r = call(POST => $path, $body, 'Content-Type' => $ct, port => 'PORT2',
          'X-Twilio-Signature' =>
              twilio_sig($TOKEN, "https://hooks.example.com/base$path",
                         @params));
is($r->{status}, 200, 'twilio: otp_public_url');
app_got('/app/twilio/status', $body, 'twilio: otp_public_url: passed on');

refused(call(POST => $path, $body, 'Content-Type' => $ct, port => 'PORT2',
             'X-Twilio-Signature' => twilio_sig($TOKEN, $url, @params)),
        'twilio: otp_public_url, signed for the URL received');

# X-Forwarded-Proto: believed from otp_trusted_proxies only

$r = call(POST => $path, $body, 'Content-Type' => $ct, port => 'PORT3',
          'X-Forwarded-Proto' => 'https',
          'X-Twilio-Signature' =>
              twilio_sig($TOKEN, "https://localhost$path", @params));
is($r->{status}, 200, 'twilio: X-Forwarded-Proto from a trusted proxy');
app_got('/app/twilio/status', $body, 'twilio: trusted proxy: passed on');

refused(call(POST => $path, $body, 'Content-Type' => $ct,
             'X-Forwarded-Proto' => 'https',
             'X-Twilio-Signature' =>
                 twilio_sig($TOKEN, "https://localhost$path", @params)),
        'twilio: X-Forwarded-Proto from an untrusted address');

# a body that arrives in parts, and one nginx writes to a file

my @big = (MessageSid => 'SMcccc', Body => 'x' x 3000);
my $bigbody = form(@big);
my $req = "POST $path HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
          . "Content-Type: $ct\r\nContent-Length: " . length($bigbody) . "\r\n"
          . 'X-Twilio-Signature: ' . twilio_sig($TOKEN, $url, @big)
          . "\r\n\r\n";
$r = $t->raw([ $req . substr($bigbody, 0, 1000), substr($bigbody, 1000, 1000),
               substr($bigbody, 2000) ], delay => 0.1);
is($r->{status}, 200, 'twilio: a body in three parts');
app_got('/app/twilio/status', $bigbody, 'twilio: in parts: body intact');

my $spath = '/app/small/status';
$r = call(POST => $spath, $bigbody, 'Content-Type' => $ct,
          'X-Twilio-Signature' =>
              twilio_sig($TOKEN, "http://localhost$spath", @big));
is($r->{status}, 200, 'twilio: a body in a temporary file');
app_got($spath, $bigbody, 'twilio: temporary file: body intact');

$r = call(POST => $path, 'a=' . ('x' x (1024 * 1024)), 'Content-Type' => $ct,
          'X-Twilio-Signature' => 'AAAAAAAAAAAAAAAAAAAAAAAAAAA=');
ok($r->{status} == 413 && $r->{json}, 'twilio: a body over 1m: 413 JSON')
    or diag($r->{raw});
app_saw_nothing('twilio: too large: the app saw nothing');

# HTTP/2

$r = $t->post($path, $ct, $body, h2 => 1, port => $t->port('PORT4'),
              headers => { 'X-Twilio-Signature' =>
                  twilio_sig($TOKEN, 'http://127.0.0.1:' . $t->port('PORT4')
                                     . $path, @params) });
is($r->{status}, 200, 'twilio: over HTTP/2');
app_got('/app/twilio/status', $body, 'twilio: HTTP/2: body intact');

###############################################################################

# Meta

my $mbody = '{"object":"whatsapp_business_account","entry":[{"id":"1",'
            . '"changes":[{"field":"messages","value":{"statuses":[{"id":'
            . '"wamid.X","status":"read"}]}}]}]}';
my $msig = 'sha256=' . hmac_sha256_hex($mbody, $APP_SECRET);
my $mjson = 'application/json';

$r = call(POST => '/app/meta/hook', $mbody, 'Content-Type' => $mjson,
          'X-Hub-Signature-256' => $msig);
is($r->{status}, 200, 'meta: a valid call passes');
app_got('/app/meta/hook', $mbody, 'meta: the app got the body intact');

refused(call(POST => '/app/meta/hook', $mbody, 'Content-Type' => $mjson),
        'meta: no signature');

refused(call(POST => '/app/meta/hook', $mbody, 'Content-Type' => $mjson,
             'X-Hub-Signature-256' =>
                 'sha256=' . hmac_sha256_hex($mbody, 'other')),
        'meta: wrong app secret');

# a batch larger than the API's bodies: read whole up to otp_body_limit,
# 1m by default where a webhook is checked

my $big = '{"object":"whatsapp_business_account","entry":[{"id":"1",'
          . '"changes":[{"field":"messages","value":{"statuses":['
          . join(',', map { '{"id":"wamid.' . sprintf('%040d', $_)
                            . '","status":"delivered","recipient_id":'
                            . '"15550100099","timestamp":"1700000000"}' }
                      1 .. 2000)
          . ']}}]}]}';
my $bsig = 'sha256=' . hmac_sha256_hex($big, $APP_SECRET);

$r = call(POST => '/app/meta/big', $big, 'Content-Type' => $mjson,
          'X-Hub-Signature-256' => $bsig);
is($r->{status}, 200, 'meta: a signed body of ' . length($big)
                      . ' bytes passes');
app_got('/app/meta/big', $big, 'meta: the app got the large body intact');

$r = call(POST => '/app/limited/big', $big, 'Content-Type' => $mjson,
          'X-Hub-Signature-256' => $bsig);
ok($r->{status} == 413 && $r->{json}
   && $r->{json}{error} eq 'invalid_request',
   'meta: over otp_body_limit: 413 JSON') or diag($r->{raw});
app_saw_nothing('meta: over otp_body_limit: the app saw nothing');

# the order of access handlers: the check runs before allow/deny (it is
# installed after them, and nginx runs a phase's handlers in reverse), and
# its refusal is final; under "satisfy any" its pass is enough, under
# "satisfy all" the others still have their say

refused(call(POST => '/app/any/hook', $mbody, 'Content-Type' => $mjson),
        'satisfy any: an allowed address without a signature');

$r = call(POST => '/app/anydeny/hook', $mbody, 'Content-Type' => $mjson,
          'X-Hub-Signature-256' => $msig);
is($r->{status}, 200, 'satisfy any: a signature passes "deny all"');
app_got('/app/anydeny/hook', $mbody, 'satisfy any: passed on');

$r = call(POST => '/app/alldeny/hook', $mbody, 'Content-Type' => $mjson,
          'X-Hub-Signature-256' => $msig);
is($r->{status}, 403, 'satisfy all: a signature, then "deny all" refuses');
app_saw_nothing('satisfy all: the app saw nothing');

(my $mbody2 = $mbody) =~ s/"read"/"reae"/;
refused(call(POST => '/app/meta/hook', $mbody2, 'Content-Type' => $mjson,
             'X-Hub-Signature-256' => $msig),
        'meta: one byte of the body changed');

$r = call(GET => "/app/meta/hook?hub.mode=subscribe&hub.verify_token=$VERIFY"
                 . '&hub.challenge=1158201444');
is($r->{status}, 200, 'meta: handshake with the right token passes');
app_got('/app/meta/hook', '', 'meta: handshake reaches the app');

refused(call(GET => '/app/meta/hook?hub.mode=subscribe&hub.verify_token=no'
                    . '&hub.challenge=1158201444'),
        'meta: handshake with a wrong token');

# a GET passes only as the handshake, not on the verify token alone

refused(call(GET => "/app/meta/hook?hub.verify_token=$VERIFY&x=1"),
        'meta: a GET with the token alone');
refused(call(GET => "/app/meta/hook?hub.mode=unsubscribe"
                    . "&hub.verify_token=$VERIFY&hub.challenge=1"),
        'meta: a GET with another hub.mode');
refused(call(GET => "/app/meta/hook?hub.mode=subscribe"
                    . "&hub.verify_token=$VERIFY&hub.challenge="),
        'meta: a GET with an empty hub.challenge');
refused(call(GET => "/app/meta/hook?hub.mode=subscribe"
                    . "&hub.verify_token=$VERIFY"),
        'meta: a GET without hub.challenge');

###############################################################################

# Africa's Talking

my $abody = form(id => 'ATXid_1', status => 'Success', phoneNumber =>
                 '+254711XXXYYY', networkCode => '63902');

$r = call(POST => "/app/at/dlr?secret=$AT_SECRET", $abody,
          'Content-Type' => $ct);
is($r->{status}, 200, 'africastalking: the secret as an argument');
app_got('/app/at/dlr', $abody, 'africastalking: the app got the body');

$r = call(POST => '/app/at/dlr', $abody, 'Content-Type' => $ct,
          'X-Webhook-Secret' => $AT_SECRET);
is($r->{status}, 200, 'africastalking: the secret as a header');
app_got('/app/at/dlr', $abody, 'africastalking: header: passed on');

$r = call(POST => '/app/at/dlr', $abody, 'Content-Type' => $ct,
          Authorization => 'Basic ' . encode_base64("at:$AT_SECRET", ''));
is($r->{status}, 200, 'africastalking: the secret as Basic auth');
app_got('/app/at/dlr', $abody, 'africastalking: Basic auth: passed on');

refused(call(POST => '/app/at/dlr', $abody, 'Content-Type' => $ct),
        'africastalking: no secret');

refused(call(POST => '/app/at/dlr?secret=wrong', $abody,
             'Content-Type' => $ct, 'X-Webhook-Secret' => "x$AT_SECRET"),
        'africastalking: a wrong secret');

refused(call(POST => "/app/far/dlr?secret=$AT_SECRET", $abody,
             'Content-Type' => $ct),
        'africastalking: an address out of webhook_allow');

###############################################################################

# Standard Webhooks

sub stdwh {
    my ($key, $id, $ts, $payload) = @_;
    return 'v1,' . encode_base64(hmac_sha256("$id.$ts.$payload", $key), '');
}

my $sbody = '{"type":"message.delivered","data":{"id":"m1"}}';
my $now = time;

$r = call(POST => '/app/stdwh/e', $sbody, 'Content-Type' => $mjson,
          'webhook-id' => 'msg_1', 'webhook-timestamp' => $now,
          'webhook-signature' => 'v1,AAAA ' . stdwh($WH_KEY, 'msg_1', $now,
                                                     $sbody));
is($r->{status}, 200, 'standard webhooks: a valid call passes');
app_got('/app/stdwh/e', $sbody, 'standard webhooks: body intact');

refused(call(POST => '/app/stdwh/e', $sbody, 'Content-Type' => $mjson,
             'webhook-id' => 'msg_1', 'webhook-timestamp' => $now),
        'standard webhooks: no signature');

refused(call(POST => '/app/stdwh/e', $sbody, 'Content-Type' => $mjson,
             'webhook-id' => 'msg_1', 'webhook-timestamp' => $now,
             'webhook-signature' => stdwh('other', 'msg_1', $now, $sbody)),
        'standard webhooks: a wrong secret');

refused(call(POST => '/app/stdwh/e', $sbody . ' ', 'Content-Type' => $mjson,
             'webhook-id' => 'msg_1', 'webhook-timestamp' => $now,
             'webhook-signature' => stdwh($WH_KEY, 'msg_1', $now, $sbody)),
        'standard webhooks: a byte added to the body');

refused(call(POST => '/app/stdwh/e', $sbody, 'Content-Type' => $mjson,
             'webhook-id' => 'msg_2', 'webhook-timestamp' => $now,
             'webhook-signature' => stdwh($WH_KEY, 'msg_1', $now, $sbody)),
        'standard webhooks: another id');

my $old = $now - 600;
refused(call(POST => '/app/stdwh/e', $sbody, 'Content-Type' => $mjson,
             'webhook-id' => 'msg_1', 'webhook-timestamp' => $old,
             'webhook-signature' => stdwh($WH_KEY, 'msg_1', $old, $sbody)),
        'standard webhooks: a timestamp out of the tolerance');

# an unguarded location is untouched
$r = call(POST => '/app/open/x', 'a=b', 'Content-Type' => $ct);
is($r->{status}, 200, 'an unguarded location passes');
app_got('/app/open/x', 'a=b', 'an unguarded location: passed on');

$t->stop;

###############################################################################

# what nginx -t refuses

(my $bad = $conf) =~ s/otp_signature wa;/otp_signature nosuch;/;
like($t->check_config($bad), qr/unknown provider "nosuch"/,
     'nginx -t: an unknown provider');

($bad = $conf) =~ s/webhook_secret=\S+ webhook_allow=127/webhook_allow=127/;
like($t->check_config($bad), qr/needs webhook_secret=/,
     'nginx -t: africastalking without webhook_secret');

($bad = $conf) =~ s/auth_token=\S+/api_key=SK5f4e3d2c1b0a99887766554433221100 api_secret=s/;
like($t->check_config($bad), qr/needs auth_token=.*signatures/,
     'nginx -t: a twilio provider with an API key only');

($bad = $conf) =~ s/otp_body_limit 1k;/otp_body_limit 9m;/;
like($t->check_config($bad),
     qr/"otp_body_limit" of \d+ bytes is more than a webhook is read/,
     'nginx -t: otp_body_limit over what a webhook is read');

# Twilio signs the host it called: without otp_public_url the client's Host
# header stands for it, which nginx -t warns about, once for each check
# (/app/twilio/ and /app/small/ of the first server, the third server's)

my $out = $t->check_config($conf);
my @warned = $out =~ /\[warn\].*the twilio signature check in (\S+:\d+) has a location whose server has no "otp_public_url".*set "otp_public_url"/g;
is(scalar(@warned), 3, 'nginx -t: a twilio check without otp_public_url '
                       . 'is warned about') or diag($out);
ok($out =~ /syntax is ok/ && $out =~ /test is successful/,
   'nginx -t: a warning, not an error');

(my $good = $conf) =~ s/\n(    server \{)/\n    otp_public_url https:\/\/hooks.example.com;\n\n$1/;
unlike($t->check_config($good), qr/has no "otp_public_url"/,
       'nginx -t: with otp_public_url in every server, no warning');

($bad = $conf) =~ s/stdwh\.secret tolerance/bad.secret tolerance/;
$t->write_file('bad.secret', "whsec_not*base64!\n", 0600);
like($t->check_config($bad), qr/secret_file=.*bad\.secret.*base64/,
     'nginx -t: a standard_webhooks secret that is no base64');

$t->done;

###############################################################################
