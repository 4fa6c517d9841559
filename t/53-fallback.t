#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# otp_fallback, both stores: a WhatsApp code (Twilio, a mock) whose
# signed status callback says failed goes again, the same code, by the
# next channel of the chain (SMS, the log provider); the code verifies;
# the two message records point at each other in GET /otp/status; a
# second failed or undelivered callback sends nothing more; a delivered
# one sends nothing; with otp_fallback off nothing is sent; nor for a code
# already used; and no log line holds the code but the log provider's.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use JSON::PP;
use Time::HiRes qw(time sleep);
use OtpTest;
use OtpStatus;
use MockProvider qw(form_hash);

###############################################################################

my $t = OtpTest->new;

$t->plan(19 * $t->stores);

my $mock = MockProvider->new(dir => $t->dir);

my $AC = 'ACa1b2c3d4e5f60718293a4b5c6d7e8f90';
my $TOKEN = 'tok1c0ffee5ecret0ddba11deadbeefab';
my $HX = 'HXb5b62575e6e4ff6129ad7c8efe1f983e';

my $conf = <<'EOF';

%%GLOBALS%%
worker_processes 1;

events {
}

http {
    %%HTTP_GLOBALS%%

    %%STORE%%
    otp_secret_file %%SECRET%%;

    otp_provider tw twilio account_sid=@AC@ auth_token=@TOKEN@
                 from=+15005550006 whatsapp_from=+14155238886
                 whatsapp_content_sid=@HX@ base_url=@MOCK@;
    otp_provider dev log;

    otp_route whatsapp default tw;
    otp_route sms default dev;

    server {
        listen 127.0.0.1:%%PORT%%;

        otp_public_url http://127.0.0.1:%%PORT%%;
        otp_client_limit off;
        otp_resend_after 0s;
        otp_channels whatsapp sms;
        otp_app_name Example;
        otp_message sms en "Your ${app} code is ${code}";

        location = /otp/send {
            otp_fallback on;
            otp_send;
        }

        location = /otp/send-nofallback {
            otp_send;
        }

        location = /otp/verify {
            otp_verify;
        }

        location /otp/status/ {
            otp_status;
        }

        location = /hooks/tw {
            otp_webhook tw;
        }
    }
}

EOF

$conf =~ s/\@AC\@/$AC/g;
$conf =~ s/\@TOKEN\@/$TOKEN/g;
$conf =~ s/\@HX\@/$HX/g;
$conf =~ s/\@MOCK\@/$mock->url/ge;

my $n = 0;

# a WhatsApp code through the mock: (message id, phone, code)
sub send_whatsapp {
    my ($path) = @_;

    my $phone = sprintf('+1555010%04d', ++$n);
    my $r = $t->post_form($path || '/otp/send', { phone => $phone });
    my $sid = $r->{json} ? $r->{json}{message_id} // '' : '';

    my ($req) = grep {
        my $b = $_->{answer}{body} // '';
        (ref $b ? encode_json($b) : $b) =~ /\Q$sid\E/
    } $mock->requests(qr{/Messages\.json$});
    my %f = form_hash($req ? $req->{body} : '');
    my $code = eval { decode_json($f{ContentVariables})->{1} };

    # the log checks look for it too
    $t->{codes}{$code} = 1 if defined $code;

    return ($r, $sid, $phone, $code);
}

sub report {
    my ($sid, $status, %more) = @_;
    return twilio_report($t, '/hooks/tw', $TOKEN, MessageSid => $sid,
                         MessageStatus => $status, AccountSid => $AC,
                         %more);
}

sub status { $t->get("/otp/status/$_[0]") }

# the log provider's lines so far
sub sms_lines {
    my @l = $t->read_file('error.log')
            =~ /otp log provider \(DEVELOPMENT ONLY\): code \d+ for \S+ via sms/g;
    return scalar @l;
}

# waits up to 3 s for the fallback's record of message $sid
sub next_of {
    my ($sid) = @_;

    my $deadline = time + 3;

    while (time < $deadline) {
        my $r = status($sid);
        return $r->{json}{next_message_id}
            if $r->{json} && $r->{json}{next_message_id};
        sleep 0.05;
    }

    return undef;
}

for my $store ($t->stores) {
    $t->write_config($conf, store => $store)->run;

    # WhatsApp accepted, then failed: the same code by SMS

    my ($r, $sid, $phone, $code) = send_whatsapp();
    ok($r->{status} == 202 && $r->{json}{channel} eq 'whatsapp'
       && $r->{json}{provider} eq 'tw' && defined $code,
       "$store: whatsapp accepted by the mock");

    my $sms = sms_lines();

    is(report($sid, 'failed', ErrorCode => '63016')->{status}, 200,
       "$store: a failed callback");

    my $next = next_of($sid);
    like($next // '', qr/^log_[0-9a-f]{32}$/,
         "$store: the record names the fallback message");

    my $sent = $t->sent($next);
    is($sent && $sent->{channel}, 'sms', "$store: sent by SMS");
    is($sent && $sent->{code}, $code, "$store: the same code");

    like($t->read_file('error.log'),
         qr/otp message \Q$sid\E to \+1\*+\d+ failed; the code went again by sms through "dev", message_id \Q$next\E/,
         "$store: a notice names both messages, the phone masked");

    response_is(status($sid), 200, {
        message_id => $sid,
        status => 'failed',
        channel => 'whatsapp',
        provider => 'tw',
        error_code => number(63016),
        updated_at => qr/Z$/,
        next_message_id => $next,
    }, "$store: the first record points to the second");

    response_is(status($next), 200, {
        message_id => $next,
        status => 'queued',
        channel => 'sms',
        provider => 'dev',
        error_code => sub { !defined $_[0] },
        updated_at => qr/Z$/,
        previous_message_id => $sid,
    }, "$store: the second points back");

    # once only

    report($sid, 'failed');
    report($sid, 'undelivered');
    sleep 0.5;
    is(sms_lines(), $sms + 1, "$store: a second failed callback sends "
       . "nothing more");
    is(status($sid)->{json}{next_message_id}, $next,
       "$store: and the link stays");

    # the code verifies

    $r = $t->post_form('/otp/verify', { phone => $phone, code => $code });
    is($r->{status}, 200, "$store: the code resent verifies");

    # a delivered message: no fallback, and a failed one after it is no
    # step (terminal)

    my ($r2, $sid2) = send_whatsapp();
    report($sid2, 'delivered');
    report($sid2, 'failed');
    sleep 0.5;
    is(sms_lines(), $sms + 1, "$store: delivered: nothing sent");
    ok(!exists status($sid2)->{json}{next_message_id},
       "$store: delivered: no link");

    # otp_fallback off

    my ($r3, $sid3) = send_whatsapp('/otp/send-nofallback');
    is($r3->{status}, 202, "$store: sent where otp_fallback is off");
    report($sid3, 'undelivered');
    sleep 0.5;
    is(sms_lines(), $sms + 1, "$store: off: nothing sent");
    ok(!exists status($sid3)->{json}{next_message_id}, "$store: off: no link");

    # a code already used

    my ($r4, $sid4, $phone4, $code4) = send_whatsapp();
    is($t->post_form('/otp/verify', { phone => $phone4, code => $code4 })
       ->{status}, 200, "$store: a code used");
    report($sid4, 'failed');
    sleep 0.5;
    is(sms_lines(), $sms + 1, "$store: used: nothing sent");
    like($t->read_file('error.log'),
         qr/otp message \Q$sid4\E to \+1\*+\d+ failed; its code is no longer live/,
         "$store: used: a notice says why");

    $t->stop;
}

$mock->stop;
$t->done;
