#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# The store's side of delivery status and opt-out (src/ngx_http_otp_store.h,
# STATUS_SET, STATUS_GET, OPTOUT_SET/CLEAR), the same on both stores and
# seen through signed webhooks and GET /otp/status/{id}: a status moves
# forward only (delivered then a late sent stays delivered; a duplicate
# changes nothing, not even updated_at; failed is final and keeps its
# error code; read follows delivered); a valid callback for an unknown id
# answers 200 and creates nothing; a callback that names the id of
# another provider's message, through that other provider's webhook,
# changes nothing; after STOP a send is 403 opted_out and no provider is
# asked, after START it goes out again.  On the shm store the opt-out list
# is never evicted: a zone filled with live codes still knows the STOP.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use JSON::PP;
use Digest::SHA qw(hmac_sha1_base64 hmac_sha256_hex);
use Time::HiRes qw(sleep);
use OtpTest;
use MockProvider;

###############################################################################

my $t = OtpTest->new;

$t->plan(19 * $t->stores + 5);

my $mock = MockProvider->new(dir => $t->dir);

my $AC = 'ACa1b2c3d4e5f60718293a4b5c6d7e8f90';
my $TOKEN = 'tok1c0ffee5ecret0ddba11deadbeefab';
my $APP_SECRET = 'meta-app-secret-0123456789abcdef';
my $AT_SECRET = 'at-hook-secret-48';
my $PUBLIC = 'https://otp.example.com';

my $conf = <<'EOF';

%%GLOBALS%%
worker_processes 2;

events {
}

http {
    %%HTTP_GLOBALS%%

    @STORE@
    otp_secret_file %%SECRET%%;

    otp_public_url @PUBLIC@;

    otp_provider tw twilio account_sid=@AC@ auth_token=@TOKEN@
                 from=+15005550006 base_url=@MOCK@;

    otp_provider wa meta_whatsapp phone_number_id=106540352242922
                 token=metatoken template=otp_login
                 app_secret=@APP_SECRET@ verify_token=vt base_url=@MOCK@;

    otp_provider at africastalking username=sandbox api_key=atkey
                 webhook_secret=@AT_SECRET@ base_url=@MOCK@;

    otp_route sms default tw;
    otp_route whatsapp default wa;

    server {
        listen 127.0.0.1:%%PORT%%;

        otp_client_limit off;
        otp_resend_after 0s;
        otp_send_limit 1000/1h;

        location = /otp/send {
            otp_channels sms whatsapp;
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
$conf =~ s/@(\w+)@/$subst{$1} \/\/ "\@$1\@"/ge;

###############################################################################

sub esc {
    my ($s) = @_;
    $s =~ s/([^A-Za-z0-9\-._~])/sprintf('%%%02X', ord $1)/ge;
    return $s;
}

sub form {
    my (%p) = @_;
    return join('&', map { esc($_) . '=' . esc($p{$_}) } sort keys %p);
}

# a signed Twilio webhook: a status callback or an incoming message
sub twilio {
    my (%p) = @_;

    my $sig = hmac_sha1_base64("$PUBLIC/hooks/twilio"
                               . join('', map { $_ . $p{$_} } sort keys %p),
                               $TOKEN);
    $sig .= '=' while length($sig) % 4;

    return $t->post('/hooks/twilio', 'application/x-www-form-urlencoded',
                    form(AccountSid => $AC, %p),
                    headers => { 'X-Twilio-Signature' => $sig });
}

sub twilio_status {
    my ($sid, $status, %more) = @_;
    return twilio(AccountSid => $AC, MessageSid => $sid,
                  MessageStatus => $status, %more);
}

sub twilio_text {
    my ($from, $text) = @_;
    return twilio(AccountSid => $AC, MessageSid => 'SM' . ('7' x 32),
                  From => $from, To => '+15005550006', Body => $text,
                  NumMedia => '0', SmsStatus => 'received');
}

sub meta_status {
    my ($id, $status) = @_;

    my $body = JSON::PP->new->canonical->encode({
        object => 'whatsapp_business_account',
        entry => [ { id => '102290129340398', changes => [ {
            field => 'messages',
            value => { messaging_product => 'whatsapp',
                       metadata => { phone_number_id => '106540352242922' },
                       statuses => [ { id => $id, status => $status,
                                       recipient_id => '15550480001',
                                       timestamp => time } ] } } ] } ] });

    return $t->post('/hooks/meta', 'application/json', $body,
                    headers => { 'X-Hub-Signature-256' =>
                                 'sha256=' . hmac_sha256_hex($body,
                                                             $APP_SECRET) });
}

sub at_status {
    my ($id, $status) = @_;
    return $t->post("/hooks/at?secret=$AT_SECRET",
                    'application/x-www-form-urlencoded',
                    form(id => $id, status => $status,
                         phoneNumber => '+254711000001',
                         networkCode => '63902'));
}

sub status_of {
    my ($id) = @_;
    my $r = $t->get('/otp/status/' . esc($id));
    return { %{ $r->{json} || {} }, http => $r->{status} };
}

sub send_to {
    my ($phone, $channel) = @_;
    return $t->post_form('/otp/send', { phone => $phone,
                                        channel => $channel // 'sms' });
}

sub sent_to {
    my ($phone) = @_;
    my $r = send_to($phone);
    return $r->{json} ? $r->{json}{message_id} : undef;
}

sub sends {
    return scalar(my @r = $mock->requests(qr{Messages\.json$|/messages$}));
}

sub shows {
    my ($id) = @_;
    my $s = status_of($id);
    return join(' ', map { $_ // 'null' }
                     $s->{status}, $s->{error_code}, $s->{updated_at});
}

###############################################################################

for my $store ($t->stores) {

my $store_conf = $store eq 'shm' ? 'otp_store shm:otp_48:1m;' : '%%STORE%%';
(my $c = $conf) =~ s/\@STORE\@/$store_conf/;

$t->write_config($c, store => $store)->run;
$mock->clear_requests;

my ($r, $s, $before);

# out of order: delivered, then a late sent

my $sid = sent_to('+15550480001');
like($sid, qr/^SM/, "$store: sent by twilio");

twilio_status($sid, 'delivered');
$r = twilio_status($sid, 'sent');
is($r->{status}, 200, "$store: a late sent answers 200");
is(status_of($sid)->{status}, 'delivered', "$store: and delivered stays");

# a duplicate changes nothing, not even the time of the last change (a
# second later, a rewrite would show in updated_at)

$before = shows($sid);
like($before, qr/^delivered null \d{4}-/, "$store: delivered, at a time");
sleep(1.1);
$r = twilio_status($sid, 'delivered');
is($r->{status}, 200, "$store: a duplicate answers 200");
is(shows($sid), $before, "$store: and changes nothing");

# read follows delivered; delivered after read is no step back

twilio_status($sid, 'read');
twilio_status($sid, 'delivered');
is(status_of($sid)->{status}, 'read', "$store: read after delivered");

# failed is final, with its error code

my $sid2 = sent_to('+15550480002');
twilio_status($sid2, 'failed', ErrorCode => '30008');
$before = shows($sid2);
twilio_status($sid2, $_) for qw(sent delivered read undelivered queued);
like($before, qr/^failed 30008 /, "$store: failed with its error code");
is(shows($sid2), $before, "$store: and nothing moves it");

# an unknown id: 200, nothing created

$r = twilio_status('SM' . ('0' x 32), 'delivered');
is($r->{status}, 200, "$store: an unknown id answers 200");
is(status_of('SM' . ('0' x 32))->{http}, 404, "$store: and creates nothing");

# another provider's webhook naming this message: not its message

my $sid3 = sent_to('+15550480003');
twilio_status($sid3, 'sent');
$before = shows($sid3);
like($before, qr/^sent null \d{4}-/, "$store: sent");

$r = meta_status($sid3, 'failed');
is($r->{status}, 200, "$store: meta's webhook with twilio's id answers 200");
$r = at_status($sid3, 'Success');
is($r->{status}, 200, "$store: africa's talking's too");
is(shows($sid3), $before, "$store: and neither changes the message");

# STOP: 403 opted_out and no provider asked; START: sends again

my $phone = '+15550480004';

twilio_text($phone, 'STOP');
$before = sends();
$r = send_to($phone);
is($r->{status} . ' ' . ($r->{json} ? $r->{json}{error} : ''),
   '403 opted_out', "$store: a send after STOP is 403 opted_out");
is(sends(), $before, "$store: and no provider was asked");

twilio_text($phone, 'START');
$r = send_to($phone);
is($r->{status}, 202, "$store: after START it is sent");
is(sends(), $before + 1, "$store: by a provider");

$t->stop;
}

###############################################################################

# shm: a zone full of live codes (which are never evicted) still holds the
# STOP, and a send to that number is 403, not 503

(my $c = $conf) =~ s/\@STORE\@/otp_store shm:otp_48_tiny:32k;/;

$t->write_config($c, store => 'shm')->run;
$mock->clear_requests;

my $phone = '+15550481000';

twilio_text($phone, 'STOP');
is(send_to($phone)->{status}, 403, 'tiny zone: STOP');

my ($r, $full);

for my $n (1 .. 1000) {
    $r = send_to(sprintf('+1555049%04d', $n));
    if ($r->{status} != 202) {
        $full = $n;
        last;
    }
}

ok($full && $r->{status} == 503, 'tiny zone: filled with codes (503)')
    or diag($r->{raw});

my $before = sends();
$r = send_to($phone);
is($r->{status} . ' ' . ($r->{json} ? $r->{json}{error} : ''),
   '403 opted_out', 'tiny zone: full, and the STOP is still known');
is(sends(), $before, 'tiny zone: no provider asked');

# START on a full zone frees an entry rather than needing one: the number
# is then refused only for want of room, like any other

twilio_text($phone, 'START');
is(send_to($phone)->{status}, 503, 'tiny zone: START, then the zone is full');

$t->stop;

$t->done;

###############################################################################
