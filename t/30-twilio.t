#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# The twilio provider against a mock of Twilio's API (t/lib/MockProvider.pm):
# the exact request of an SMS (Messages.json, Basic auth with the auth
# token or an API key, the form fields in order, '+' sent as %2B), of a
# WhatsApp template (whatsapp: addresses, ContentSid, ContentVariables) and
# of a voice call (Calls.json, TwiML reading the digits one by one); the
# code the phone gets is the code that verifies; the 202 names Twilio's sid,
# the channel and the provider; a Twilio error object moves the send to the
# next provider, or ends in 502 with Twilio's words (numbers starred); and
# no log line or answer holds the code or a credential.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use JSON::PP;
use MIME::Base64 qw(encode_base64);
use OtpTest;
use MockProvider qw(form_pairs form_hash basic_auth mask star_digits leaks);

###############################################################################

my $t = OtpTest->new;

$t->plan(40);

my $mock = MockProvider->new(dir => $t->dir);

my $AC1 = 'ACa1b2c3d4e5f60718293a4b5c6d7e8f90';
my $AC2 = 'AC0f1e2d3c4b5a69788796a5b4c3d2e1f0';
my $AC3 = 'AC00112233445566778899aabbccddeeff';
my $TOKEN1 = 'tok1c0ffee5ecret0ddba11deadbeefab';
my $SK = 'SK5f4e3d2c1b0a99887766554433221100';
my $SECRET2 = 'apisecretXyZ0987654321abcdefABCDE';
my $TOKEN3 = 'tok3fromafile77665544332211aabbcc';
my $MG = 'MG7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1';
my $HX = 'HXb5b62575e6e4ff6129ad7c8efe1f983e';
my $CALLBACK = 'https://otp.example.com/otp/twilio/status?src=nginx&v=1';

$t->write_file('twilio.token', "$TOKEN3\n", 0600);

my $conf = <<'EOF';

%%GLOBALS%%
worker_processes 1;

events {
}

http {
    %%HTTP_GLOBALS%%

    %%STORE%%
    otp_secret_file %%SECRET%%;

    otp_provider tw twilio account_sid=@AC1@ auth_token=@TOKEN1@
                 from=+15005550006
                 whatsapp_from=+14155238886 whatsapp_content_sid=@HX@
                 voice_from=+15005550007
                 status_callback=@CALLBACK@
                 base_url=@MOCK@;

    otp_provider tw_key twilio account_sid=@AC2@ api_key=@SK@
                 api_secret=@SECRET2@ messaging_service_sid=@MG@
                 base_url=@MOCK@;

    otp_provider tw_file twilio account_sid=@AC3@
                 auth_token_file=%%PREFIX%%/twilio.token
                 from=+15005550008 voice_from=+15005550009
                 voice_language=fr-FR base_url=@MOCK@;

    otp_route sms +1555020 tw_key;
    otp_route sms +1555030 tw_file;
    otp_route sms +1555040 tw tw_key;
    otp_route sms default tw;
    otp_route voice +33 tw_file;
    otp_route voice default tw;

    server {
        listen 127.0.0.1:%%PORT%%;

        otp_client_limit off;

        location = /otp/send {
            otp_channels sms whatsapp voice;
            otp_send;
        }

        location = /otp/verify {
            otp_verify;
        }
    }
}

EOF

my %subst = (MOCK => $mock->url, AC1 => $AC1, AC2 => $AC2, AC3 => $AC3,
             TOKEN1 => $TOKEN1, SK => $SK, SECRET2 => $SECRET2, MG => $MG,
             HX => $HX, CALLBACK => $CALLBACK);
$conf =~ s/@(\w+)@/$subst{$1}/g;

$t->write_config($conf)->run;

###############################################################################

my (@codes, @sequential);

# form escaping as the module must do it: unreserved kept, the rest %XX
sub esc {
    my ($s) = @_;
    $s =~ s/([^A-Za-z0-9\-._~])/sprintf('%%%02X', ord $1)/ge;
    return $s;
}

# sends, and returns (response, the one request the mock got for it)
sub send_one {
    my ($fields, $path) = @_;

    my $before = scalar $mock->requests;
    my $r = $t->post_form('/otp/send', $fields);
    my @req = $mock->requests;

    return ($r, @req[$before .. $#req]);
}

sub sid_of {
    my ($req) = @_;
    my $a = eval { decode_json($req->{answer}{body}) } || {};
    return $a->{sid} // '';
}

sub pairs_text {
    return join "\n", map { "$_->[0]=$_->[1]" } @_;
}

sub verified {
    my ($phone, $code, $name) = @_;

    my $r = $t->post_form('/otp/verify', { phone => $phone, code => $code });

    ok($r->{status} == 200 && $r->{json} && $r->{json}{verified},
       $name) or diag("verify: $r->{status} $r->{body}");
}

my $SMS_TEXT = qr/^Your verification code is (\d{6})\. Valid for 5 minutes\. Do not share it\.$/;

###############################################################################

# SMS with an auth token: the exact request

my ($r, $req, @more) = send_one({ phone => '+15550100001', channel => 'sms' });

response_is($r, 202, {
    status => 'pending',
    message_id => sid_of($req // {}),
    channel => 'sms',
    provider => 'tw',
    expires_in => number(300),
    resend_after => number(30),
}, 'sms: 202 with the sid Twilio answered');

like(sid_of($req // {}), qr/^SM[0-9a-f]{32}$/, 'sms: the sid is the mock\'s');
ok($req && !@more, 'sms: one request to Twilio');

is($req && "$req->{method} $req->{path}",
   "POST /2010-04-01/Accounts/$AC1/Messages.json",
   'sms: POST to the account\'s Messages.json');

is($req && $req->{headers}{authorization},
   'Basic ' . encode_base64("$AC1:$TOKEN1", ''),
   'sms: Basic auth with account sid and auth token');

like($req && $req->{headers}{'content-type'},
     qr{^application/x-www-form-urlencoded(; ?charset=utf-8)?$}i,
     'sms: a form body');

my %f = form_hash($req ? $req->{body} : '');
my ($code) = ($f{Body} // '') =~ $SMS_TEXT;
push @codes, $code;

ok(defined $code, 'sms: Body is the default text with a 6-digit code')
    or diag("Body: " . ($f{Body} // 'none'));

is($req && $req->{body},
   'To=%2B15550100001&From=%2B15005550006'
   . '&Body=' . esc("Your verification code is "
                    . ($code // 'CODE')
                    . ". Valid for 5 minutes. Do not share it.")
   . '&StatusCallback=' . esc($CALLBACK),
   'sms: the form exactly: To, From, Body, StatusCallback, all escaped');

is(pairs_text(form_pairs($req ? $req->{body} : '')),
   pairs_text([ To => '+15550100001' ], [ From => '+15005550006' ],
              [ Body => $f{Body} // '' ], [ StatusCallback => $CALLBACK ]),
   'sms: the fields decode to the number, sender and callback');

ok($code && index($r->{raw}, $code) < 0, 'sms: the 202 does not hold the code');

verified('+15550100001', $code, 'sms: the code in the SMS verifies');

push @sequential, $req;

# SMS with an API key and a messaging service

($r, $req) = send_one({ phone => '+15550200001', channel => 'sms' });

response_is($r, 202, {
    status => 'pending',
    message_id => qr/^SM[0-9a-f]{32}$/,
    channel => 'sms',
    provider => 'tw_key',
    expires_in => number(300),
    resend_after => number(30),
}, 'api key: 202 from tw_key');

is($r->{json} && $r->{json}{message_id}, sid_of($req // {}),
   'api key: message_id is the sid');

is($req && "$req->{method} $req->{path} " . $req->{headers}{authorization},
   "POST /2010-04-01/Accounts/$AC2/Messages.json Basic "
   . encode_base64("$SK:$SECRET2", ''),
   'api key: the account\'s path, Basic auth with key and secret');

%f = form_hash($req ? $req->{body} : '');
($code) = ($f{Body} // '') =~ $SMS_TEXT;
push @codes, $code;

is(pairs_text(form_pairs($req ? $req->{body} : '')),
   pairs_text([ To => '+15550200001' ], [ MessagingServiceSid => $MG ],
              [ Body => "Your verification code is "
                        . ($code // 'CODE')
                        . ". Valid for 5 minutes. Do not share it." ]),
   'api key: To, MessagingServiceSid, Body and no StatusCallback');

push @sequential, $req;

# SMS with auth_token_file

($r, $req) = send_one({ phone => '+15550300001', channel => 'sms' });

is($r->{status} . ' ' . ($r->{json} ? $r->{json}{provider} : ''), '202 tw_file',
   'token file: 202 from tw_file');

is($req && $req->{headers}{authorization},
   'Basic ' . encode_base64("$AC3:$TOKEN3", ''),
   'token file: the token read from the file, newline dropped');

%f = form_hash($req ? $req->{body} : '');
($code) = ($f{Body} // '') =~ $SMS_TEXT;
push @codes, $code;
push @sequential, $req;

# WhatsApp through Twilio: the approved template, the code its variable

($r, $req) = send_one({ phone => '+15550100002', channel => 'whatsapp' });

response_is($r, 202, {
    status => 'pending',
    message_id => sid_of($req // {}),
    channel => 'whatsapp',
    provider => 'tw',
    expires_in => number(300),
    resend_after => number(30),
}, 'whatsapp: 202 with the sid');

%f = form_hash($req ? $req->{body} : '');
my $vars = eval { decode_json($f{ContentVariables} // '') } || {};
$code = $vars->{1};
push @codes, $code;

is(JSON::PP->new->canonical->encode($vars), '{"1":"' . ($code // '') . '"}',
   'whatsapp: ContentVariables is {"1":"<code>"}');

is($req && "$req->{path} $req->{body}",
   "/2010-04-01/Accounts/$AC1/Messages.json "
   . 'To=whatsapp%3A%2B15550100002&From=whatsapp%3A%2B14155238886'
   . "&ContentSid=$HX"
   . '&ContentVariables=' . esc('{"1":"' . ($code // 'CODE') . '"}')
   . '&StatusCallback=' . esc($CALLBACK),
   'whatsapp: Messages.json with whatsapp: addresses and ContentSid');

like($code // '', qr/^\d{6}$/, 'whatsapp: a 6-digit code');

verified('+15550100002', $code, 'whatsapp: the code verifies');

push @sequential, $req;

# voice: Calls.json, TwiML saying the digits apart, twice

($r, $req) = send_one({ phone => '+15550100003', channel => 'voice' });

response_is($r, 202, {
    status => 'pending',
    message_id => qr/^CA[0-9a-f]{32}$/,
    channel => 'voice',
    provider => 'tw',
    expires_in => number(300),
    resend_after => number(30),
}, 'voice: 202 with a call sid');

is($r->{json} && $r->{json}{message_id}, sid_of($req // {}),
   'voice: message_id is the call\'s sid');

%f = form_hash($req ? $req->{body} : '');
($code) = ($f{Twiml} // '') =~ /is (\d(?:, \d){5})\./;
$code =~ s/, //g if defined $code;
push @codes, $code;

my $spoken = join ', ', split //, $code // '000000';

is(pairs_text(form_pairs($req ? $req->{body} : '')),
   pairs_text([ To => '+15550100003' ], [ From => '+15005550007' ],
              [ Twiml => '<Response><Say language="en-US">Your verification '
                         . "code is $spoken.</Say><Pause length=\"1\"/>"
                         . '<Say language="en-US">Again: '
                         . "$spoken.</Say></Response>" ],
              [ StatusCallback => $CALLBACK ]),
   'voice: To, From, the TwiML and StatusCallback');

is($req && "$req->{method} $req->{path}",
   "POST /2010-04-01/Accounts/$AC1/Calls.json", 'voice: POST to Calls.json');

verified('+15550100003', $code, 'voice: the spoken code verifies');

push @sequential, $req;

# voice_language

($r, $req) = send_one({ phone => '+33612345678', channel => 'voice' });

is($r->{status} . ' ' . ($r->{json} ? $r->{json}{provider} : ''), '202 tw_file',
   'voice_language: 202 from tw_file');

%f = form_hash($req ? $req->{body} : '');
like($f{Twiml} // '', qr/^<Response><Say language="fr-FR">.*<Say language="fr-FR">Again: /,
     'voice_language: the TwiML says fr-FR');
($code) = ($f{Twiml} // '') =~ /is (\d(?:, \d){5})\./;
$code =~ s/, //g if defined $code;
push @codes, $code;
push @sequential, $req;

# keep-alive: the sequential requests above went over one connection

my %conns = map { $_->{conn} => 1 } grep { defined } @sequential;
is(scalar(keys %conns), 1,
   'keep-alive: ' . scalar(@sequential) . ' sequential requests, one connection');

# a Twilio error moves the send on to the next provider of the route

my $err21211 = {
    code => 21211,
    message => "The 'To' number +15550400001 is not a valid phone number.",
    more_info => 'https://www.twilio.com/docs/errors/21211',
    status => 400,
};

$mock->on(qr{^/2010-04-01/Accounts/$AC1/Messages\.json$}
          => { status => 400, body => $err21211 });

my @reqs;
($r, @reqs) = send_one({ phone => '+15550400001', channel => 'sms' });

response_is($r, 202, {
    status => 'pending',
    message_id => qr/^SM[0-9a-f]{32}$/,
    channel => 'sms',
    provider => 'tw_key',
    expires_in => number(300),
    resend_after => number(30),
}, 'error: 202 from the next provider, tw_key');

is(join(' ', map { $_->{path} } @reqs),
   "/2010-04-01/Accounts/$AC1/Messages.json "
   . "/2010-04-01/Accounts/$AC2/Messages.json",
   'error: tw was asked first, then tw_key');

for my $q (@reqs) {
    my %g = form_hash($q->{body});
    my ($c) = ($g{Body} // '') =~ $SMS_TEXT;
    push @codes, $c;
}

my $warn = 'rejected, HTTP 400, twilio code 21211: "'
    . star_digits("The 'To' number +15550400001 is not a valid phone number.")
    . '"';

is(scalar(grep { /\[warn\].*otp provider "tw" failed to deliver to \Q${\ mask('+15550400001')}\E via sms: \Q$warn\E while sending the code through a provider, client: / }
          MockProvider::log_lines($t, qr/failed to deliver/)),
   1, 'error: logged once, with Twilio\'s words and the number starred');

# both providers refuse: 502 with each one's category and code, never
# Twilio's words

my $err21408 = {
    code => 21408,
    message => "Permission to send an SMS has not been enabled for the "
               . "region indicated by the 'To' number: +15550400002.",
    more_info => 'https://www.twilio.com/docs/errors/21408',
    status => 400,
};

$mock->on(qr{^/2010-04-01/Accounts/$AC2/Messages\.json$}
          => { status => 400, body => $err21408 });

($r, @reqs) = send_one({ phone => '+15550400002', channel => 'sms' });

response_is($r, 502, {
    error => 'delivery_failed',
    message => any_string,
    attempts => [
        { channel => 'sms', provider => 'tw', error => 'rejected',
          provider_code => 21211 },
        { channel => 'sms', provider => 'tw_key', error => 'rejected',
          provider_code => 21408 },
    ],
}, '502 delivery_failed: both attempts with Twilio\'s codes');

is(scalar @reqs, 2, '502: both providers were asked');

for my $q (@reqs) {
    my %g = form_hash($q->{body});
    my ($c) = ($g{Body} // '') =~ $SMS_TEXT;
    push @codes, $c;
    ok(!defined $c || index($r->{raw}, $c) < 0, '502: the answer holds no code');
}

# an error answer that is not JSON

$mock->on(qr{^/2010-04-01/Accounts/$AC1/Messages\.json$}
          => { status => 503, content_type => 'text/html',
               body => "<html><body>Service Unavailable</body></html>" });

($r, @reqs) = send_one({ phone => '+15550400003', channel => 'sms' });

is($r->{json} && $r->{json}{attempts} && $r->{json}{attempts}[0]{error},
   'unavailable', '502: a 503 page that is not JSON: unavailable');

$mock->reset;

###############################################################################

# no code and no credential anywhere but at the provider

$t->stop;

@codes = grep { defined } @codes;

my @leak = leaks($t, @codes);
ok(@codes >= 8 && !@leak, 'no code in error.log or access.log ('
   . scalar(@codes) . ' codes)') or diag(join "\n", @leak[0 .. ($#leak > 9 ? 9 : $#leak)]);

@leak = leaks($t, $TOKEN1, $SECRET2, $TOKEN3,
              encode_base64("$AC1:$TOKEN1", ''),
              encode_base64("$SK:$SECRET2", ''),
              encode_base64("$AC3:$TOKEN3", ''));
ok(!@leak, 'no credential in error.log or access.log')
    or diag(join "\n", @leak[0 .. ($#leak > 9 ? 9 : $#leak)]);

$mock->stop;
$t->done;

###############################################################################
