#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# The delivery chain across real provider types (mocked by
# t/lib/MockProvider.pm): otp_route sends +254 through Africa's Talking and
# the rest through Twilio; a channel with routes uses only them; a channel
# without routes uses every provider that carries it, in declaration order;
# channel=auto follows otp_channels (whatsapp, then sms) and falls back to
# sms when the WhatsApp provider answers an error and when it times out
# (timeout=1s against an answer delayed 3 s); a 502 lists every attempt in
# order; a channel not enabled at the location is 400 invalid_channel,
# before any provider is asked.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use OtpTest;
use MockProvider qw(mask star_digits log_lines);

###############################################################################

my $t = OtpTest->new;

$t->plan(30);

my $mock = MockProvider->new(dir => $t->dir);

my $AC1 = 'AC11111111111111111111111111111111';
my $AC2 = 'AC22222222222222222222222222222222';

my $conf = <<'EOF';

%%GLOBALS%%
worker_processes 1;

events {
}

http {
    %%HTTP_GLOBALS%%

    %%STORE%%
    otp_secret_file %%SECRET%%;

    otp_provider at africastalking username=acme api_key=atsk_routing
                 base_url=@MOCK@;

    otp_provider tw twilio account_sid=@AC1@ auth_token=routingtoken1
                 from=+15005550006 voice_from=+15005550006 base_url=@MOCK@;

    otp_provider wa meta_whatsapp phone_number_id=111222333 token=EAArouting
                 template=acme_otp base_url=@MOCK@ timeout=1s;

    otp_provider tw2 twilio account_sid=@AC2@ auth_token=routingtoken2
                 voice_from=+15005550010 base_url=@MOCK@;

    otp_route sms +254 at;
    otp_route sms default tw;
    otp_route whatsapp +44 wa;
    otp_route whatsapp +254 wa;

    server {
        listen 127.0.0.1:%%PORT%%;

        otp_client_limit off;

        location = /otp/send/sms {
            otp_channels sms;
            otp_send;
        }

        location = /otp/send/auto {
            otp_channels whatsapp sms;
            otp_send;
        }

        location = /otp/send/voice {
            otp_channels voice;
            otp_send;
        }
    }
}

EOF

my %subst = (MOCK => $mock->url, AC1 => $AC1, AC2 => $AC2);
$conf =~ s/@(\w+)@/$subst{$1}/g;

$t->write_config($conf)->run;

my @workers = $t->worker_pids;

###############################################################################

my $AT = '/version1/messaging';
my $META = '/v21.0/111222333/messages';
my $TW_SMS = "/2010-04-01/Accounts/$AC1/Messages.json";
my $TW_CALL = "/2010-04-01/Accounts/$AC1/Calls.json";
my $TW2_CALL = "/2010-04-01/Accounts/$AC2/Calls.json";

# sends; returns the answer and the paths the mock was asked, in order
sub send_to {
    my ($path, $fields) = @_;

    my $before = scalar $mock->requests;
    my $r = $t->post_form($path, $fields);
    my @req = $mock->requests;

    return ($r, join ' ', map { $_->{path} } @req[$before .. $#req]);
}

sub accepted {
    my ($r, $channel, $provider, $name) = @_;

    local $Test::Builder::Level = $Test::Builder::Level + 1;

    response_is($r, 202, {
        status => 'pending',
        message_id => qr/./,
        channel => $channel,
        provider => $provider,
        expires_in => number(300),
        resend_after => number(30),
    }, $name);
}

my $oauth = { error => { message => 'Invalid OAuth access token.',
                         type => 'OAuthException', code => 190,
                         fbtrace_id => 'AbCdEfGhIj' } };
my %meta_err = (error => 'auth_failed', provider_code => 190);

my $tw_21211 = { code => 21211, status => 400,
                 message => "The 'To' number is not a valid phone number.",
                 more_info => 'https://www.twilio.com/docs/errors/21211' };
my %tw_err = (error => 'rejected', provider_code => 21211);

my $tw_13224 = { code => 13224, status => 400,
                 message => 'Call: Invalid phone number.',
                 more_info => 'https://www.twilio.com/docs/errors/13224' };

my ($r, $paths);

###############################################################################

# otp_route: +254 through Africa's Talking, the rest through Twilio

($r, $paths) = send_to('/otp/send/sms', { phone => '+254722000001' });
accepted($r, 'sms', 'at', 'route: +254 goes to africastalking');
is($paths, $AT, 'route: +254: only Africa\'s Talking was asked');

($r, $paths) = send_to('/otp/send/sms', { phone => '+15550330001' });
accepted($r, 'sms', 'tw', 'route: +1 goes to twilio (default)');
is($paths, $TW_SMS, 'route: +1: only Twilio was asked');

($r, $paths) = send_to('/otp/send/sms', { phone => '+447700900001' });
accepted($r, 'sms', 'tw', 'route: +44 goes to twilio (default)');

# auto: whatsapp first where a route has it

($r, $paths) = send_to('/otp/send/auto', { phone => '+447700900002' });
accepted($r, 'whatsapp', 'wa', 'auto: +44 whatsapp first');
is($paths, $META, 'auto: +44: only Meta was asked');

# a channel with routes uses only them: +1 has no whatsapp route

($r, $paths) = send_to('/otp/send/auto', { phone => '+15550330002' });
accepted($r, 'sms', 'tw', 'auto: +1 has no whatsapp route: sms');
is($paths, $TW_SMS, 'auto: +1: Meta was not asked');

# channel=sms at an auto location: whatsapp is not tried

($r, $paths) = send_to('/otp/send/auto',
                       { phone => '+447700900010', channel => 'sms' });
accepted($r, 'sms', 'tw', 'channel=sms: sms only');
is($paths, $TW_SMS, 'channel=sms: Meta was not asked');

# whatsapp answers an error: fall back to sms

$mock->on(qr{/messages$} => { status => 401, body => $oauth });

($r, $paths) = send_to('/otp/send/auto', { phone => '+447700900003' });
accepted($r, 'sms', 'tw', 'fallback: whatsapp error, then sms');
is($paths, "$META $TW_SMS", 'fallback: Meta, then Twilio');

# whatsapp times out (timeout=1s, the answer would come after 3 s)

$mock->on(qr{/messages$} => { delay => 3 });

($r, $paths) = send_to('/otp/send/auto', { phone => '+447700900004' });
accepted($r, 'sms', 'tw', 'fallback: whatsapp timeout, then sms');
is($paths, "$META $TW_SMS", 'timeout: Meta, then Twilio');

my @timeout = grep { /\[warn\].*otp provider "wa" failed to deliver to \Q${\ mask('+447700900004')}\E via whatsapp: timeout: ".*tim(ed|e) ?out/i }
              log_lines($t, qr/failed to deliver/);
is(scalar @timeout, 1, 'timeout: logged once as a timeout')
    or diag(join "\n", log_lines($t, qr/\Q${\ mask('+447700900004')}\E/));

# every provider fails: 502 lists each attempt, in order

$mock->on(qr{/messages$} => { status => 401, body => $oauth });
$mock->on(qr{^/2010-04-01/Accounts/$AC1/Messages\.json$}
          => { status => 400, body => $tw_21211 });

($r, $paths) = send_to('/otp/send/auto', { phone => '+447700900005' });

response_is($r, 502, {
    error => 'delivery_failed',
    message => any_string,
    attempts => [
        { channel => 'whatsapp', provider => 'wa', %meta_err },
        { channel => 'sms', provider => 'tw', %tw_err },
    ],
}, '502: whatsapp wa, then sms tw, each with its error');
is($paths, "$META $TW_SMS", '502: both asked, in order');

$mock->on(qr{^/version1/messaging$} => { status => 201, body => {
    SMSMessageData => {
        Message => 'Sent to 0/1 Total Cost: 0',
        Recipients => [ { cost => '0', messageId => 'None',
                          number => '+254722000002',
                          status => 'UserInBlacklist', statusCode => 406 } ],
    },
} });

($r, $paths) = send_to('/otp/send/auto', { phone => '+254722000002' });

response_is($r, 502, {
    error => 'delivery_failed',
    message => any_string,
    attempts => [
        { channel => 'whatsapp', provider => 'wa', %meta_err },
        { channel => 'sms', provider => 'at', error => 'rejected',
          provider_code => 406 },
    ],
}, '502: +254: whatsapp wa, then sms at');
is($paths, "$META $AT", '502: +254: Meta, then Africa\'s Talking');

$mock->reset;

# a channel without routes: every provider that carries it, in the order
# declared (voice: tw, then tw2)

($r, $paths) = send_to('/otp/send/voice', { phone => '+15550330003' });
accepted($r, 'voice', 'tw', 'no route: voice by tw, declared first');
is($paths, $TW_CALL, 'no route: only tw was asked');

$mock->on(qr{^/2010-04-01/Accounts/$AC1/Calls\.json$}
          => { status => 400, body => $tw_13224 });

($r, $paths) = send_to('/otp/send/voice', { phone => '+15550330004' });
accepted($r, 'voice', 'tw2', 'no route: tw fails, then tw2');
is($paths, "$TW_CALL $TW2_CALL", 'no route: tw, then tw2');

$mock->on(qr{^/2010-04-01/Accounts/$AC2/Calls\.json$}
          => { status => 400, body => $tw_13224 });

($r, $paths) = send_to('/otp/send/voice', { phone => '+15550330005' });

response_is($r, 502, {
    error => 'delivery_failed',
    message => any_string,
    attempts => [
        { channel => 'voice', provider => 'tw', error => 'rejected',
          provider_code => 13224 },
        { channel => 'voice', provider => 'tw2', error => 'rejected',
          provider_code => 13224 },
    ],
}, 'no route: 502 lists tw and tw2');

$mock->reset;

# a channel not enabled here: 400, and no provider asked

($r, $paths) = send_to('/otp/send/auto',
                       { phone => '+15550330006', channel => 'voice' });

response_is($r, 400, { error => 'invalid_channel', message => any_string },
            'channel=voice where not enabled: 400 invalid_channel');
is($paths, '', 'invalid_channel: no provider was asked');

($r, $paths) = send_to('/otp/send/sms',
                       { phone => '+15550330007', channel => 'whatsapp' });

response_is($r, 400, { error => 'invalid_channel', message => any_string },
            'channel=whatsapp at an sms location: 400 invalid_channel');
is($paths, '', 'invalid_channel: still no provider asked');

# the worker that timed out a provider is the one still serving

is(join(' ', $t->worker_pids), join(' ', @workers),
   'the worker is the one started, never replaced');

###############################################################################

$mock->stop;
$t->done;

###############################################################################
