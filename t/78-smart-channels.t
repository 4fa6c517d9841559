#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# Smart channel choice (otp_smart_channels, otp_smart_window), the same on
# both stores.  A location that tries WhatsApp first: with no figures, a
# send without a channel (or "auto") goes by WhatsApp.  Scripted: WhatsApp
# messages to +44 undelivered, SMS messages to +44 delivered (signed Twilio
# callbacks, counted by the delivery analytics); once the workers have read
# the rates again (refresh=1s), a send to +44 without a channel goes by SMS
# first, and falls back to WhatsApp when SMS is refused; "auto" the same.
# What the figures do not cover keeps the configured order: a number of
# another country, a channel under min= sends, a location with the choice
# off, a send that names its channel.  nginx -t refuses a bad min= or
# refresh=.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Time::HiRes qw(time sleep);
use OtpTest;
use OtpStatus;
use MockProvider;

###############################################################################

my $t = OtpTest->new;

$t->plan(12 * $t->stores + 3);

my $mock = MockProvider->new(dir => $t->dir);

my $AC = 'ACa1b2c3d4e5f60718293a4b5c6d7e8f78';
my $TOKEN = 'tok78c0ffee5ecret0ddba11deadbeefa';
my $HX = 'HXb5b62575e6e4ff6129ad7c8efe1f9878';

my $conf = <<'EOF';

%%GLOBALS%%
worker_processes 2;

events {
}

http {
    %%HTTP_GLOBALS%%

    %%STORE%%
    otp_secret_file %%SECRET%%;

    otp_provider tw twilio account_sid=@AC@ auth_token=@TOKEN@
                 from=+15005550006 whatsapp_from=+14155238886
                 whatsapp_content_sid=@HX@ base_url=@MOCK@;

    otp_smart_window 24h refresh=1s;
    otp_smart_channels on min=3;

    otp_client_limit off;
    otp_resend_after 0s;
    otp_send_limit 1000/1h;

    server {
        listen 127.0.0.1:%%PORT%%;

        otp_public_url http://127.0.0.1:%%PORT%%;
        otp_channels whatsapp sms;

        location = /otp/send {
            otp_send;
        }

        location = /otp/send-fixed {
            otp_smart_channels off;
            otp_send;
        }

        location = /otp/send-many {
            otp_smart_channels on min=1000;
            otp_send;
        }

        location = /hooks/tw {
            otp_webhook tw;
        }
    }
}

EOF

$conf =~ s/\@(AC|TOKEN|HX)\@/{ AC => $AC, TOKEN => $TOKEN, HX => $HX }->{$1}/ge;
$conf =~ s/\@MOCK\@/$mock->url/ge;

###############################################################################

my $n = 0;

sub phone { sprintf('%s%04d', $_[0], ++$n) }

# the channel a send went by (202), or its status
sub send_by {
    my ($path, $phone, %f) = @_;
    my $r = $t->post_form($path, { phone => $phone, %f });
    return $r->{status} == 202
           ? ($r->{json}{channel}, $r->{json}{message_id})
           : ("status $r->{status}", undef);
}

sub report {
    my ($sid, $status) = @_;
    return twilio_report($t, '/hooks/tw', $TOKEN, MessageSid => $sid,
                         MessageStatus => $status, AccountSid => $AC);
}

###############################################################################

for my $store ($t->stores) {
    $t->write_config($conf, store => $store)->run;
    $mock->clear_requests;

    # no figures yet: the configured order

    is((send_by('/otp/send', phone('+4477009')))[0], 'whatsapp',
       "$store: no figures: WhatsApp first, as configured");

    # +44: WhatsApp undelivered, SMS delivered

    my $ok = 1;

    for (1 .. 4) {
        my ($ch, $sid) = send_by('/otp/send', phone('+4477009'),
                                 channel => 'whatsapp');
        $ok &&= $ch eq 'whatsapp'
                && report($sid, 'undelivered')->{status} == 200;

        ($ch, $sid) = send_by('/otp/send', phone('+4477009'),
                              channel => 'sms');
        $ok &&= $ch eq 'sms' && report($sid, 'delivered')->{status} == 200;
    }

    ok($ok, "$store: +44: 4 WhatsApp undelivered, 4 SMS delivered");

    # both workers read the rates again within refresh=1s (and a bit)
    sleep 2.5;

    my @by = map { (send_by('/otp/send', phone('+4477009')))[0] } 1 .. 4;
    is("@by", 'sms sms sms sms',
       "$store: +44 without a channel: SMS first now (both workers)");

    is((send_by('/otp/send', phone('+4477009'), channel => 'auto'))[0],
       'sms', "$store: auto: the same");

    is((send_by('/otp/send', phone('+4477009'), channel => 'whatsapp'))[0],
       'whatsapp', "$store: a send that names its channel: that one");

    is((send_by('/otp/send', phone('+1555010')))[0], 'whatsapp',
       "$store: +1, no figures: the configured order");

    is((send_by('/otp/send-fixed', phone('+4477009')))[0], 'whatsapp',
       "$store: otp_smart_channels off: the configured order");

    is((send_by('/otp/send-many', phone('+4477009')))[0], 'whatsapp',
       "$store: under min= sends: the configured order");

    # SMS refused by the provider: the chain goes on to WhatsApp

    $mock->on(qr{/Messages\.json$}, { body_like => qr/To=%2B44/,
                                      status => 400,
                                      body => { code => 21211,
                                                message => 'bad To' } });

    my $before = scalar $mock->requests(qr{/Messages\.json$});
    my ($ch) = send_by('/otp/send', phone('+4477009'));
    my @tried = map { $_->{body} =~ /To=whatsapp/ ? 'whatsapp' : 'sms' }
                ($mock->requests(qr{/Messages\.json$}))[$before .. $before + 1];
    is("$ch: @tried", 'whatsapp: sms whatsapp',
       "$store: SMS refused: WhatsApp next in the chain");

    $mock->reset;

    # a worker that reads the rates says so in its debug log only; the
    # error log holds no warning of a failed read

    unlike($t->read_file('error.log'),
           qr/delivery rates could not be read/,
           "$store: the rates were read without a failure");

    $t->stop;

    # a store down: the last rates stay, a warning once, sends go on

    if ($store eq 'redis') {
        $t->run;
        sleep 1.5;
        $t->stop_redis;
        sleep 2;
        like($t->read_file('error.log'),
             qr/otp smart channels: the delivery rates could not be read/,
             "$store: Redis down: the failed read told");
        is(scalar(() = $t->read_file('error.log')
                       =~ /delivery rates could not be read/g), 2,
           "$store: once per worker");
        $t->stop;
    } else {
        pass("$store: (a store that cannot go down)") for 1 .. 2;
    }
}

###############################################################################

# nginx -t

(my $bad = $conf) =~ s/min=3/min=0/;
like($t->check_config($bad), qr/invalid "min=0"/, 'min=0 refused');

($bad = $conf) =~ s/refresh=1s/refresh=10ms/;
like($t->check_config($bad), qr/refresh= is 1s at least/,
     'refresh= under 1s refused');

($bad = $conf) =~ s/otp_smart_channels on min=3/otp_smart_channels maybe/;
like($t->check_config($bad), qr/invalid value "maybe"/,
     'a value other than on or off refused');

$mock->stop;
$t->done;

###############################################################################
