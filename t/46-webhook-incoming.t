#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# Incoming messages through otp_webhook, both stores: STOP (and its
# synonyms, any case) from Twilio SMS, Twilio WhatsApp or Meta puts the
# number on the opt-out list, and /otp/send to it answers 403 opted_out
# without contacting any provider; START takes it off again; HELP is
# answered with otp_help_text in TwiML, XML-escaped; other texts go to
# otp_webhook_forward (a URI or a named location) with the body intact and
# the verified sender in X-OTP-From and X-OTP-Channel (a client's own
# copies of those removed), or, without it, answer 200 and nothing else.
# YES opts in only a number that is on the list: otherwise it is a reply
# like any other.  A client's X-OTP-From never reaches an application by
# any other location, and a subrequest (mirror) to the webhook changes
# nothing: only the main request's signature is checked.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Digest::SHA qw(hmac_sha1_base64 hmac_sha256_hex);
use OtpTest;
use MockProvider;

###############################################################################

my $t = OtpTest->new;

$t->plan(26 * $t->stores + 1);

my $mock = MockProvider->new(dir => $t->dir);
$mock->on(qr{^/(app|hooks|open)/|^/mirrored$} =>
          { status => 200, body => { app => 'ok' } });

my $AC = 'ACa1b2c3d4e5f60718293a4b5c6d7e8f90';
my $TOKEN = 'tok1c0ffee5ecret0ddba11deadbeefab';
my $APP_SECRET = 'meta-app-secret-0123456789abcdef';
my $PUBLIC = 'https://otp.example.com';

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
    otp_help_text "Example & Co <help>: reply STOP to opt out";

    otp_provider tw twilio account_sid=@AC@ auth_token=@TOKEN@
                 from=+15005550006 base_url=@MOCK@;

    otp_provider wa meta_whatsapp phone_number_id=106540352242922
                 token=metatoken template=otp_login
                 app_secret=@APP_SECRET@ verify_token=vt base_url=@MOCK@;

    otp_route sms default tw;
    otp_route whatsapp default wa;

    server {
        listen 127.0.0.1:%%PORT%%;

        underscores_in_headers on;
        otp_client_limit off;
        otp_resend_after 0s;

        location = /otp/send {
            otp_channels sms whatsapp;
            otp_send;
        }

        location = /hooks/twilio {
            otp_webhook tw;
        }

        location = /hooks/twilio-replies {
            otp_webhook tw;
            otp_webhook_forward /app/replies;
        }

        location = /hooks/meta {
            otp_webhook wa;
            otp_webhook_forward @app;
        }

        location /app/ {
            internal;
            proxy_pass @MOCK@;
        }

        location @app {
            proxy_pass @MOCK@;
        }

        location /open/ {
            proxy_pass @MOCK@;
        }

        location = /mirrored {
            mirror /hooks/twilio;
            proxy_pass @MOCK@;
        }
    }
}

EOF

my %subst = (MOCK => $mock->url, AC => $AC, TOKEN => $TOKEN,
             APP_SECRET => $APP_SECRET, PUBLIC => $PUBLIC);
$conf =~ s/@(\w+)@/$subst{$1}/g;

###############################################################################

sub esc {
    my ($s) = @_;
    $s =~ s/([^A-Za-z0-9\-._~])/sprintf('%%%02X', ord $1)/ge;
    return $s;
}

my $seq = 0;

# an incoming message as Twilio posts it; returns (response, body)
sub twilio_in {
    my ($path, $from, $text, %headers) = @_;

    my %p = (MessageSid => sprintf('SM%032d', ++$seq), AccountSid => $AC,
             From => $from, To => '+15005550006', Body => $text,
             NumMedia => '0', SmsStatus => 'received');

    my $sig = hmac_sha1_base64("$PUBLIC$path" . join('', map { $_ . $p{$_} }
                                                      sort keys %p), $TOKEN);
    $sig .= '=' while length($sig) % 4;

    my $body = join('&', map { esc($_) . '=' . esc($p{$_}) } sort keys %p);

    return ($t->post($path, 'application/x-www-form-urlencoded', $body,
                     headers => { 'X-Twilio-Signature' => $sig,
                                  %headers }),
            $body);
}

sub meta_in {
    my ($from, $text) = @_;

    my $body = JSON::PP->new->canonical->encode({
        object => 'whatsapp_business_account',
        entry => [ { id => '102290129340398', changes => [ {
            field => 'messages',
            value => {
                messaging_product => 'whatsapp',
                metadata => { phone_number_id => '106540352242922' },
                contacts => [ { wa_id => $from,
                                profile => { name => 'Kerry' } } ],
                messages => [ { from => $from, id => 'wamid.in' . ++$seq,
                                timestamp => time, type => 'text',
                                text => { body => $text } } ] } } ] } ] });

    return ($t->post('/hooks/meta', 'application/json', $body,
                     headers => { 'X-Hub-Signature-256' =>
                                  'sha256=' . hmac_sha256_hex($body,
                                                              $APP_SECRET) }),
            $body);
}

sub sends {
    return scalar(my @r = $mock->requests(qr{Messages\.json$|/messages$}));
}

sub send_to {
    my ($phone, $channel) = @_;
    return $t->post_form('/otp/send', { phone => $phone,
                                        channel => $channel });
}

###############################################################################

for my $store ($t->stores) {
    $t->write_config($conf, store => $store)->run;
    $mock->clear_requests;

    # STOP by SMS, then a send: 403 opted_out, no provider contacted

    my $phone = '+15550100001';
    is(send_to($phone, 'sms')->{status}, 202, "$store: a send before STOP");

    my ($r) = twilio_in('/hooks/twilio', $phone, "  Stop \n");
    ok($r->{status} == 200 && $r->{body} =~ m{<Response/>},
       "$store: STOP answers an empty TwiML Response") or diag($r->{raw});

    my $before = sends();
    $r = send_to($phone, 'sms');
    response_is($r, 403, { error => 'opted_out', message => any_string },
                "$store: a send after STOP is 403 opted_out");
    is(sends(), $before, "$store: and no provider was contacted");

    # START: sends again

    twilio_in('/hooks/twilio', $phone, 'START');
    is(send_to($phone, 'sms')->{status}, 202, "$store: START: sends again");

    # synonyms, and WhatsApp through Twilio

    twilio_in('/hooks/twilio', "whatsapp:$phone", 'unsubscribe');
    is(send_to($phone, 'sms')->{status}, 403,
       "$store: UNSUBSCRIBE on WhatsApp opts the number out");

    twilio_in('/hooks/twilio', $phone, 'unstop');
    is(send_to($phone, 'sms')->{status}, 202, "$store: UNSTOP: back in");

    # an unsigned STOP changes nothing

    $r = $t->post('/hooks/twilio', 'application/x-www-form-urlencoded',
                  'MessageSid=SMx&From=%2B15550100001&Body=STOP');
    is($r->{status}, 403, "$store: an unsigned STOP is 403");
    is(send_to($phone, 'sms')->{status}, 202,
       "$store: and the number still gets codes");

    # HELP: the help text, XML-escaped, in TwiML

    ($r) = twilio_in('/hooks/twilio', $phone, 'help');
    ok($r->{status} == 200 && $r->{headers}{'content-type'} =~ m{^text/xml}
       && $r->{body} =~ m{<Response><Message>Example &amp; Co &lt;help&gt;: }
                        . qr{reply STOP to opt out</Message></Response>},
       "$store: HELP answers the help text in TwiML") or diag($r->{raw});

    # other texts: 200 and nothing without otp_webhook_forward

    my $app = scalar(my @a = $mock->requests(qr{^/(app|hooks)/}));
    ($r) = twilio_in('/hooks/twilio', '+15550109999', 'NO thanks');
    ok($r->{status} == 200 && $r->{body} =~ m{<Response/>},
       "$store: another text: 200, nothing to say");
    is(scalar(@a = $mock->requests(qr{^/(app|hooks)/})), $app,
       "$store: and nothing passed on");

    # ... and passed on with it, the sender verified

    my $body;
    ($r, $body) = twilio_in('/hooks/twilio-replies', '+15550109998',
                            'NO thanks', 'X-OTP-From' => '+19999999999',
                            'x-otp-channel' => 'voice');
    is($r->{status}, 200, "$store: forwarded: the app's answer");

    my ($fw) = $mock->requests(qr{^/app/replies});
    ok($fw && $fw->{body} eq $body, "$store: forwarded with the body intact")
        or diag(explain($fw));
    is($fw && $fw->{headers}{'x-otp-from'}, '+15550109998',
       "$store: X-OTP-From is the verified sender, the client's dropped");
    is($fw && $fw->{headers}{'x-otp-channel'}, 'sms',
       "$store: X-OTP-Channel");
    ok($fw && $fw->{headers}{'x-twilio-signature'},
       "$store: the provider's own headers stay");

    # Meta: STOP, and a reply forwarded to a named location

    my $wphone = '+15550100002';
    is(send_to($wphone, 'whatsapp')->{status}, 202,
       "$store: meta: a send before STOP");

    ($r) = meta_in('15550100002', 'STOP');
    is(send_to($wphone, 'whatsapp')->{status}, 403,
       "$store: meta: STOP opts the number out");

    ($r, $body) = meta_in('15550109997', 'maybe later');
    ($fw) = $mock->requests(qr{^/hooks/meta});
    ok($r->{status} == 200 && $fw && $fw->{body} eq $body
       && $fw->{headers}{'x-otp-from'} eq '+15550109997'
       && $fw->{headers}{'x-otp-channel'} eq 'whatsapp',
       "$store: meta: a reply passed on to a named location")
        or diag(explain($fw));

    # YES: an opt-in only for a number on the list, a reply otherwise

    ($r, $body) = twilio_in('/hooks/twilio-replies', '+15550109996', 'Yes');
    my @fw = $mock->requests(qr{^/app/replies});
    ok($r->{status} == 200 && @fw && $fw[-1]{body} eq $body
       && $fw[-1]{headers}{'x-otp-from'} eq '+15550109996',
       "$store: YES from a number not opted out is passed on")
        or diag(explain(\@fw));

    my $yes = '+15550100004';
    twilio_in('/hooks/twilio-replies', $yes, 'STOP');
    is(send_to($yes, 'sms')->{status}, 403, "$store: YES: STOP first");
    my $nfw = scalar(@fw = $mock->requests(qr{^/app/replies}));
    twilio_in('/hooks/twilio-replies', $yes, 'yes');
    is(send_to($yes, 'sms')->{status}, 202,
       "$store: YES from an opted-out number opts it in");
    is(scalar(@fw = $mock->requests(qr{^/app/replies})), $nfw,
       "$store: and is not passed on");

    # a client's X-OTP-* headers reach no application by another location

    $r = $t->post('/open/hooks/twilio', 'application/x-www-form-urlencoded',
                  'Body=NO', headers => { 'X-OTP-From' => '+19999999999',
                                          'X-Otp-Channel' => 'sms',
                                          'X_OTP_From' => '+19999999999',
                                          'X-Other' => 'kept' });
    ($fw) = $mock->wait_requests(1, qr{^/open/}, 3);
    ok($r->{status} == 200 && $fw && $fw->{headers}{'x-other'} eq 'kept'
       && !grep({ /^x[-_]otp[-_]/ } keys %{ $fw->{headers} }),
       "$store: a client's X-OTP-From never reaches an application")
        or diag(explain($fw));

    # a mirror subrequest to the webhook: no signature checked, refused

    my $victim = '+15550100003';
    $r = $t->post('/mirrored', 'application/x-www-form-urlencoded',
                  'MessageSid=SMx&From=%2B15550100003&Body=STOP');
    $mock->wait_requests(1, qr{^/mirrored$}, 3);
    is(send_to($victim, 'sms')->{status}, 202,
       "$store: a STOP in a mirror subrequest changes nothing");

    $mock->clear_requests;
    $t->stop;
}

# otp_help_text is TwiML's: a text XML cannot carry is refused by nginx -t

(my $bad = $conf) =~ s/otp_help_text "[^"]*"/otp_help_text "Acme \x01"/;
like($t->check_config($bad), qr/"otp_help_text" directive takes UTF-8/,
     'nginx -t: otp_help_text with a control character');

$t->done;

###############################################################################
