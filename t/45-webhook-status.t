#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# Status callbacks through otp_webhook, both stores: Twilio's for messages
# (MessageStatus, ErrorCode) and calls (CallStatus), Meta's (several
# statuses in one POST, errors[].code) and Africa's Talking's (status,
# failureReason) change what GET /otp/status/{id} shows, forward only: a
# late or repeated callback changes nothing and still answers 200, as
# does a valid callback for an unknown id; an unsigned one is 403 and
# changes nothing.  The StatusCallback Twilio is given derives from
# otp_public_url and the webhook location, and nginx -t prints the URLs to
# give Meta's and Africa's Talking's consoles.  A store that is down
# answers 503 (a provider that retries, as Meta does, tries again).  A
# batch of some 200 KiB (hundreds of statuses, as Meta sends under load)
# is read whole and applied; over the webhook's otp_body_limit (1m when
# not given) it is 413 JSON and changes nothing.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Digest::SHA qw(hmac_sha1_base64 hmac_sha256_hex);
use OtpTest;
use MockProvider qw(form_hash);

###############################################################################

my $t = OtpTest->new;

my $mock = MockProvider->new(dir => $t->dir);

my $AC = 'ACa1b2c3d4e5f60718293a4b5c6d7e8f90';
my $TOKEN = 'tok1c0ffee5ecret0ddba11deadbeefab';
my $APP_SECRET = 'meta-app-secret-0123456789abcdef';
my $AT_SECRET = 'at-hook-secret-42';
my $PUBLIC = 'https://otp.example.com/api';

my $conf = <<'EOF';

%%GLOBALS%%
worker_processes 1;

events {
}

http {
    %%HTTP_GLOBALS%%

    %%STORE%%
    otp_secret_file %%SECRET%%;

    otp_public_url @PUBLIC@;

    otp_provider tw twilio account_sid=@AC@ auth_token=@TOKEN@
                 from=+15005550006 voice_from=+15005550007
                 base_url=@MOCK@;

    otp_provider wa meta_whatsapp phone_number_id=106540352242922
                 token=metatoken template=otp_login
                 app_secret=@APP_SECRET@ verify_token=vt base_url=@MOCK@;

    otp_provider at africastalking username=sandbox api_key=atkey
                 webhook_secret=@AT_SECRET@ base_url=@MOCK@;

    otp_route sms +254 at;
    otp_route sms default tw;
    otp_route whatsapp default wa;
    otp_route voice default tw;

    server {
        listen 127.0.0.1:%%PORT%%;

        otp_client_limit off;
        otp_resend_after 0s;

        # nginx's own limit is not the one tested
        client_max_body_size 4m;

        location = /otp/send {
            otp_channels sms whatsapp voice;
            otp_send;
        }

        location /otp/status/ {
            otp_status;
        }

        location = /hooks/twilio {
            otp_webhook tw;
        }

        location = /hooks/meta {
            otp_webhook wa;
        }

        location /hooks/at {
            otp_webhook at;
        }
    }
}

EOF

my %subst = (MOCK => $mock->url, AC => $AC, TOKEN => $TOKEN,
             APP_SECRET => $APP_SECRET, AT_SECRET => $AT_SECRET,
             PUBLIC => $PUBLIC);
$conf =~ s/@(\w+)@/$subst{$1}/g;

# Without the status endpoint (another branch until they are merged) the
# record is read from Redis, and the shm store cannot be checked
my $has_status = $t->check_config($conf) !~ /unknown directive "otp_status"/;
my @stores = grep { $has_status || $_ eq 'redis' } $t->stores;

$conf =~ s{\n\s*location /otp/status/ \{\s*otp_status;\s*\}}{}
    unless $has_status;

$t->plan(31 * @stores + 4);

###############################################################################

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

my $meta_len;

sub meta {
    my (@statuses) = @_;

    my $body = JSON::PP->new->canonical->encode({
        object => 'whatsapp_business_account',
        entry => [ { id => '102290129340398', changes => [ {
            field => 'messages',
            value => { messaging_product => 'whatsapp',
                       metadata => { phone_number_id => '106540352242922' },
                       statuses => \@statuses } } ] } ] });

    $meta_len = length $body;

    return $t->post('/hooks/meta', 'application/json', $body,
                    headers => { 'X-Hub-Signature-256' =>
                                 'sha256=' . hmac_sha256_hex($body,
                                                             $APP_SECRET) });
}

sub at {
    my (%p) = @_;

    return $t->post("/hooks/at?secret=$AT_SECRET",
                    'application/x-www-form-urlencoded',
                    join('&', map { esc($_) . '=' . esc($p{$_}) }
                              sort keys %p));
}

sub status_of {
    my ($id) = @_;

    if (!$has_status) {
        my ($st, $err) = split /\n/,
            $t->redis_command('HMGET', "otp:m:{$id}", 'status', 'error')
            // '', -1;
        return { http => 404 } unless length($st // '');
        return { http => 200, status => $st,
                 error_code => length($err // '') ? $err : undef };
    }

    my $r = $t->get('/otp/status/' . esc($id));
    return { %{ $r->{json} || {} }, http => $r->{status} };
}

my $n = 0;

sub send_to {
    my ($phone, $channel) = @_;
    my $r = $t->post_form('/otp/send', { phone => $phone,
                                         channel => $channel });
    return $r->{json} ? $r->{json}{message_id} : undef;
}

###############################################################################

for my $store (@stores) {
    $t->write_config($conf, store => $store)->run;
    $mock->clear_requests;

    # Twilio, a message

    my $sid = send_to('+15550100001', 'sms');
    like($sid, qr/^SM/, "$store: twilio sms sent");

    my ($req) = $mock->requests(qr{/Messages\.json$});
    my %form = form_hash($req ? $req->{body} : '');
    is($form{StatusCallback}, "$PUBLIC/hooks/twilio",
       "$store: StatusCallback is otp_public_url and the webhook location");

    my $r = twilio(MessageSid => $sid, MessageStatus => 'sent',
                   AccountSid => $AC);
    ok($r->{status} == 200 && $r->{headers}{'content-type'} =~ m{^text/xml}
       && $r->{body} =~ m{<Response/>}, "$store: twilio: 200, TwiML")
        or diag($r->{raw});
    is(status_of($sid)->{status}, 'sent', "$store: twilio: sent");

    twilio(MessageSid => $sid, MessageStatus => 'delivered',
           AccountSid => $AC);
    is(status_of($sid)->{status}, 'delivered', "$store: twilio: delivered");

    $r = twilio(MessageSid => $sid, MessageStatus => 'sent',
                AccountSid => $AC);
    is($r->{status}, 200, "$store: twilio: a late sent answers 200");
    is(status_of($sid)->{status}, 'delivered',
       "$store: twilio: a late sent leaves delivered");

    twilio(MessageSid => $sid, MessageStatus => 'delivered',
           AccountSid => $AC);
    is(status_of($sid)->{status}, 'delivered',
       "$store: twilio: a duplicate changes nothing");

    my $sid2 = send_to('+15550100002', 'sms');
    twilio(MessageSid => $sid2, MessageStatus => 'undelivered',
           ErrorCode => '30003', AccountSid => $AC);
    my $s = status_of($sid2);
    ok($s->{status} eq 'undelivered' && ($s->{error_code} // '') eq '30003',
       "$store: twilio: undelivered with its error code")
        or diag(explain($s));

    twilio(MessageSid => $sid2, MessageStatus => 'delivered',
           AccountSid => $AC);
    is(status_of($sid2)->{status}, 'undelivered',
       "$store: twilio: a terminal status stays");

    # an unsigned callback changes nothing

    $r = $t->post('/hooks/twilio', 'application/x-www-form-urlencoded',
                  "MessageSid=$sid2&MessageStatus=read");
    is($r->{status}, 403, "$store: twilio: unsigned is 403");

    # unknown id: 200, nothing

    $r = twilio(MessageSid => 'SM' . ('0' x 32), MessageStatus => 'delivered',
                AccountSid => $AC);
    is($r->{status}, 200, "$store: twilio: an unknown id answers 200");
    is(status_of('SM' . ('0' x 32))->{http}, 404,
       "$store: twilio: and creates nothing");

    # Twilio, a call

    my $ca = send_to('+15550100003', 'voice');
    like($ca, qr/^CA/, "$store: twilio voice call placed");

    twilio(CallSid => $ca, CallStatus => 'ringing', AccountSid => $AC);
    twilio(CallSid => $ca, CallStatus => 'completed', AccountSid => $AC);
    is(status_of($ca)->{status}, 'delivered',
       "$store: twilio: a completed call is delivered");

    # Meta: several statuses in one POST, in order

    my $wa = send_to('+15550100004', 'whatsapp');
    my $wa2 = send_to('+15550100005', 'whatsapp');
    like($wa, qr/^wamid/, "$store: meta: sent");

    $r = meta({ id => $wa, status => 'sent', recipient_id => '15550100004',
                timestamp => time },
              { id => $wa, status => 'delivered',
                recipient_id => '15550100004', timestamp => time },
              { id => $wa2, status => 'failed', recipient_id => '15550100005',
                timestamp => time,
                errors => [ { code => 131026, title => 'Undeliverable' } ] });
    is($r->{status}, 200, "$store: meta: 200");
    is(status_of($wa)->{status}, 'delivered', "$store: meta: delivered");
    $s = status_of($wa2);
    ok($s->{status} eq 'failed' && ($s->{error_code} // '') eq '131026',
       "$store: meta: failed with errors[0].code") or diag(explain($s));

    meta({ id => $wa, status => 'read', recipient_id => '15550100004',
           timestamp => time });
    is(status_of($wa)->{status}, 'read', "$store: meta: read");

    meta({ id => $wa, status => 'delivered', recipient_id => '15550100004',
           timestamp => time });
    is(status_of($wa)->{status}, 'read',
       "$store: meta: out of order, read stays");

    # a large batch: statuses of other messages (unknown here: 200,
    # nothing), ours last, where a parser that stops early misses it

    my $wa3 = send_to('+15550100006', 'whatsapp');

    my @batch = map { {
        id => sprintf('wamid.HBgLMTU1NTAxMDAwOTkVAgARGBI%08d', $_),
        status => 'delivered', recipient_id => '15550100099',
        timestamp => time,
        conversation => { id => sprintf('%032x', $_),
                          origin => { type => 'authentication' } },
        pricing => { billable => JSON::PP::true, pricing_model => 'CBP',
                     category => 'authentication' } } } 1 .. 800;

    $r = meta(@batch, { id => $wa3, status => 'delivered',
                        recipient_id => '15550100006', timestamp => time });
    cmp_ok($meta_len, '>', 200 * 1024,
           "$store: meta: a batch of $meta_len bytes");
    is($r->{status}, 200, "$store: meta: the batch answers 200")
        or diag($r->{raw});
    is(status_of($wa3)->{status}, 'delivered',
       "$store: meta: the batch's last status applied");

    # over 1m, the default for a webhook: refused before it is read

    push @batch, @batch, @batch, @batch, @batch;
    $r = meta(@batch, { id => $wa3, status => 'read',
                        recipient_id => '15550100006', timestamp => time });
    ok($r->{status} == 413 && $r->{json}
       && $r->{json}{error} eq 'invalid_request',
       "$store: meta: $meta_len bytes: 413 JSON") or diag($r->{raw});
    is(status_of($wa3)->{status}, 'delivered',
       "$store: meta: the refused batch changed nothing");

    # Africa's Talking

    my $at = send_to('+254711000001', 'sms');
    ok(defined $at && length $at, "$store: africastalking: sent");

    $r = at(id => $at, status => 'Sent', phoneNumber => '+254711000001',
            networkCode => '63902');
    is($r->{status}, 200, "$store: africastalking: 200");
    is(status_of($at)->{status}, 'sent', "$store: africastalking: sent");

    at(id => $at, status => 'Failed', failureReason => 'InsufficientCredit',
       phoneNumber => '+254711000001', networkCode => '63902');
    $s = status_of($at);
    ok($s->{status} eq 'failed'
       && ($s->{error_code} // '') eq 'InsufficientCredit',
       "$store: africastalking: failed with its reason") or diag(explain($s));

    # the store down: 503, for the provider to retry

    if ($store eq 'redis') {
        $t->stop_redis;
        $r = twilio(MessageSid => $sid, MessageStatus => 'read',
                    AccountSid => $AC);
        is($r->{status}, 503, "$store: the store down: 503");
        $t->start_redis;

    } else {
        pass("$store: (a store that cannot be down)");
    }

    $t->stop;
}

###############################################################################

# nginx -t prints what to paste in the consoles (the secret never)

my $out = $t->check_config($conf, store => 'shm');
like($out, qr{meta_whatsapp provider "wa".*callback URL \Q$PUBLIC\E/hooks/meta},
     'nginx -t: the URL for Meta\'s console');
like($out, qr{africastalking provider "at".*\Q$PUBLIC\E/hooks/at\?secret=<webhook_secret>},
     'nginx -t: the URL for Africa\'s Talking\'s console');
unlike($out, qr/\Q$AT_SECRET\E|\Q$APP_SECRET\E|\Q$TOKEN\E/,
       'nginx -t: no secret printed');
unlike($out, qr/has no "otp_public_url"/,
       'nginx -t: with otp_public_url, no warning about the Host header');

$t->done;

###############################################################################
