#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# The outcome variables and an audit log made of them: nginx's own
# access_log with conf-examples/audit-log.conf's log_format ($otp_audit,
# escape=none), buffered, and `if=` an OTP handler answered.  A scripted
# set of sends, verifies, status callbacks and incoming messages gives
# exactly one valid JSON line each, with the expected result, channel,
# provider, message id, masked number, number HMAC, attempts left and
# provider time; never a code or a full number; a URI and a message id
# with quotes, backslashes and control characters stay JSON.  A second
# log composed of the variables one by one (escape=json) says the same.
# USR1 (nginx -s reopen) starts a new file.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use JSON::PP;
use Digest::SHA qw(hmac_sha1_base64);
use Time::HiRes qw(time sleep);
use OtpTest;
use MockProvider qw(form_hash);

###############################################################################

my $t = OtpTest->new;

my $mock = MockProvider->new(dir => $t->dir);

my $AC = 'ACa1b2c3d4e5f60718293a4b5c6d7e8f90';
my $TOKEN = 'tok1c0ffee5ecret0ddba11deadbeefab';
my $PUBLIC = 'https://otp.example';

# the audit log of conf-examples/audit-log.conf, as it is written there
my ($format, $audit) = OtpTest::audit_example();

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
                 from=+15005550006 base_url=@MOCK@;
    otp_public_url @PUBLIC@;

    @FORMAT@

    # the variables one by one, as a user composes a line of them
    log_format otp_vars escape=json
        '{"uri":"$uri","result":"$otp_result","channel":"$otp_channel",'
        '"provider":"$otp_provider","message_id":"$otp_message_id",'
        '"phone":"$otp_phone_masked","phone_hmac":"$otp_phone_hmac",'
        '"attempts_remaining":"$otp_attempts_remaining",'
        '"provider_ms":"$otp_provider_ms","cost":"$otp_cost"}';

    server {
        listen 127.0.0.1:%%PORT%%;

        @AUDIT@
        access_log %%PREFIX%%/vars.log otp_vars if=$otp_result;

        # the shipped format without if=: every request, still JSON
        access_log %%PREFIX%%/all.log otp_audit;

        otp_client_limit off;
        otp_resend_after 60s;

        location = /otp/send {
            otp_send;
        }

        location = /otp/verify {
            otp_verify;
        }

        location /otp/status/ {
            otp_status;
        }

        location /v/ {
            otp_verify;
        }

        location = /hooks/twilio {
            otp_webhook tw;
        }

        location = /plain {
            return 200 "plain\n";
        }
    }
}

EOF

my %subst = (AC => $AC, TOKEN => $TOKEN, PUBLIC => $PUBLIC,
             MOCK => $mock->url, FORMAT => $format, AUDIT => $audit);
$conf =~ s/@(AC|TOKEN|PUBLIC|MOCK|FORMAT|AUDIT)@/$subst{$1}/g;

$t->plan(54);

$t->write_config($conf)->run;

###############################################################################

sub esc {
    my ($s) = @_;
    $s =~ s/([^A-Za-z0-9\-._~])/sprintf('%%%02X', ord $1)/ge;
    return $s;
}

sub twilio {
    my (%p) = @_;

    my $sig = hmac_sha1_base64("$PUBLIC/hooks/twilio"
                               . join('', map { $_ . $p{$_} } sort keys %p),
                               $TOKEN);
    $sig .= '=' while length($sig) % 4;

    return $t->post('/hooks/twilio', 'application/x-www-form-urlencoded',
                    join('&', map { esc($_) . '=' . esc($p{$_}) }
                              sort keys %p),
                    headers => { 'X-Twilio-Signature' => $sig });
}

my $P = '+15550710001';
my $Q = '+15550710002';

# a send through the mock: the code from the SMS body
my $before = scalar $mock->requests;
my $r = $t->post_form('/otp/send', { phone => $P });
my %f = form_hash((($mock->requests)[$before] // {})->{body} // '');
my ($code) = ($f{Body} // '') =~ /(\d{6})/;
$t->{codes}{$code} = 1 if defined $code;
my $sid = $r->{json} ? $r->{json}{message_id} // '' : '';

is($r->{status}, 202, 'a send');

is($t->post_form('/otp/send', { phone => $P })->{status}, 429,
   'a send too early');
is($t->post_form('/otp/verify', { phone => $P, code => '000000' })->{status},
   401, 'a wrong code');
is($t->post_form('/otp/verify', { phone => $P, code => $code })->{status},
   200, 'the right code');
is($t->post_form('/otp/verify', { phone => $P, code => $code })->{status},
   410, 'the code again');

is(twilio(MessageSid => $sid, MessageStatus => 'delivered',
          AccountSid => $AC)->{status}, 200, 'a status callback');
is(twilio(MessageSid => $sid, MessageStatus => 'sent',
          AccountSid => $AC)->{status}, 200, 'a late one');
is(twilio(MessageSid => 'SM' . ('0' x 32), MessageStatus => 'delivered',
          AccountSid => $AC)->{status}, 200, 'one for no message of ours');
is(twilio(MessageSid => 'SMstop', AccountSid => $AC, From => $Q,
          To => '+15005550006', Body => 'STOP', NumMedia => '0',
          SmsStatus => 'received')->{status}, 200, 'a STOP');
is($t->post_form('/otp/send', { phone => $Q })->{status}, 403,
   'a send to the opted-out number');
is($t->post_form('/otp/send', { phone => 'not a number' })->{status}, 400,
   'a bad number');

# neither a plain request nor a status lookup is audited
$t->get('/plain');
$t->get("/otp/status/$sid");

# nginx -s reopen: the log moves aside, a new one is started

sub audit_lines {
    my ($file) = @_;
    return grep { length } split /\n/, $t->read_file($file) // '';
}

my $deadline = time + 5;
sleep 0.1 while time < $deadline && audit_lines('audit.log') < 11;

rename $t->dir . '/audit.log', $t->dir . '/audit.log.1' or die $!;
kill 'USR1', $t->read_file('nginx.pid') =~ /(\d+)/;

$deadline = time + 5;
sleep 0.05 while time < $deadline && !-e $t->dir . '/audit.log';
ok(-e $t->dir . '/audit.log', 'USR1 (nginx -s reopen) starts a new file');

is($t->post_form('/otp/verify', { phone => $P, code => '000000' })->{status},
   410, 'a verify after the reopen');

# an error nginx answers itself (a chunked body over the limit): its
# JSON error's code is the outcome too
my $big = 'phone=%2B15550710001&code=' . ('1' x 1100000);
my $chunked = sprintf("%x\r\n%s\r\n0\r\n\r\n", length $big, $big);
$r = $t->raw("POST /otp/verify HTTP/1.1\r\nHost: localhost\r\n"
             . "Connection: close\r\n"
             . "Content-Type: application/x-www-form-urlencoded\r\n"
             . "Transfer-Encoding: chunked\r\n\r\n$chunked");
is($r->{status}, 400, 'a chunked body over the limit: 400');

# what a client chose, with a quote, a backslash and control characters
# (a message id with those never gets this far: it is refused where it
# arrives, ngx_otp_wire_take_id() and ngx_otp_hook_id())
is($t->post_form('/v/a%22b%5Cc%09d%01', { phone => $P, code => '000000' })
   ->{status}, 410, 'a verify at an odd URI');
is($t->post_form('/v/%FF%C3%BC%C0%80', { phone => $P, code => '000000' })
   ->{status}, 410, 'a verify at a URI of invalid UTF-8');

$t->stop;

###############################################################################

my @old = audit_lines('audit.log.1');
my @new = audit_lines('audit.log');

my @lines = map { eval { decode_json($_) } } @old, @new;
is(scalar @lines, scalar(@old) + scalar(@new), 'every line is valid JSON');
is(scalar @old, 11, 'one line for each of the 11 OTP requests before');
is(scalar @new, 4, 'and four after the reopen');

sub fields {
    my ($l) = @_;
    return join ' ', map { "$_=" . ($l->{$_} // '') }
        qw(status result channel provider phone attempts_remaining);
}

my @want = (
    "status=202 result=sent channel=sms provider=tw phone=+1******0001 "
        . "attempts_remaining=",
    "status=429 result=rate_limited channel= provider= phone=+1******0001 "
        . "attempts_remaining=",
    "status=401 result=invalid_code channel= provider= phone=+1******0001 "
        . "attempts_remaining=4",
    "status=200 result=verified channel= provider= phone=+1******0001 "
        . "attempts_remaining=",
    "status=410 result=expired channel= provider= phone=+1******0001 "
        . "attempts_remaining=",
    "status=200 result=status_delivered channel=sms provider=tw phone= "
        . "attempts_remaining=",
    "status=200 result=status_unchanged channel=sms provider=tw phone= "
        . "attempts_remaining=",
    "status=200 result=status_unknown channel= provider=tw phone= "
        . "attempts_remaining=",
    "status=200 result=opted_out channel=sms provider=tw phone=+1******0002 "
        . "attempts_remaining=",
    "status=403 result=opted_out channel= provider= phone=+1******0002 "
        . "attempts_remaining=",
    "status=400 result=invalid_phone channel= provider= phone= "
        . "attempts_remaining=",
    "status=410 result=expired channel= provider= phone=+1******0001 "
        . "attempts_remaining=",
    "status=400 result=invalid_request channel= provider= phone= "
        . "attempts_remaining=",
    "status=410 result=expired channel= provider= phone=+1******0001 "
        . "attempts_remaining=",
    "status=410 result=expired channel= provider= phone=+1******0001 "
        . "attempts_remaining=",
);

for my $i (0 .. $#want) {
    is(fields($lines[$i] // {}), $want[$i], "line " . ($i + 1));
}

is($lines[0]{message_id}, $sid, 'the send names its message id');
is($lines[5]{message_id}, $sid, 'so does its status callback');
like($lines[0]{provider_ms}, qr/^\d+$/, 'and the time spent at Twilio');
is($lines[13]{uri}, "/v/a\"b\\c\td\x01", 'an odd URI, escaped and whole');
like($new[2], qr/"uri":"\/v\/a\\"b\\\\c\\td\\u0001"/,
     'escaped as JSON wants');
is($lines[14]{uri}, "/v/\x{ff}\x{fc}\x{c0}\x{80}",
   'invalid UTF-8: each byte as \\u00XX, the valid sequence as it is');
like($new[3], qr{"uri":"/v/\\u00ff\xc3\xbc\\u00c0\\u0080"},
     'so written');

# a member whose variable is empty is left out; the counts are numbers
is(scalar(grep { my $l = $_; grep { !defined || $_ eq '' } values %$l }
          @lines), 0, 'no empty member');
like($lines[2]{attempts_remaining}, qr/^4$/, 'attempts left');
like($old[2], qr/"status":401,.*"attempts_remaining":4\}$/,
     'the status and the attempts as JSON numbers');

# the variables one by one say what $otp_audit says, but for the URI of
# invalid UTF-8: nginx's escape=json leaves its bytes, and the line is
# not JSON (the last one)
my @vlines = audit_lines('vars.log');
is(scalar @vlines, scalar @lines, 'a line of the variables for each');
ok(!eval { decode_json($vlines[14] // '') },
   'escape=json: a line of invalid UTF-8 is no JSON');
my @vars = map { eval { decode_json($_) } // {} } @vlines[0 .. 13];
my @diff = grep {
    my ($a, $v) = ($lines[$_], $vars[$_] // {});
    grep { ($a->{$_} // '') ne ($v->{$_} // '') }
        qw(uri result channel provider message_id phone phone_hmac
           attempts_remaining provider_ms cost);
} 0 .. 13;
is("@diff", '', 'the other lines: the same values');

my %hmac = map { $_->{phone_hmac} => 1 } grep { $_->{phone} eq '+1******0001' }
           @lines[0 .. 4, 11];
my ($h) = keys %hmac;
ok(keys %hmac == 1 && $h =~ /^[0-9a-f]{64}$/,
   'one number, one HMAC, on all its lines');
isnt($lines[8]{phone_hmac}, $h, 'another number, another HMAC');
is($lines[8]{phone_hmac}, $lines[9]{phone_hmac},
   'the STOP and the refused send share theirs');

# without if=: a request no OTP handler answered has its URI and status
my @every = audit_lines('all.log');
is(scalar(grep { !eval { decode_json($_) } } @every), 0,
   'without if=, every line is JSON');
my ($plain) = grep { $_->{uri} eq '/plain' } map { decode_json($_) } @every;
is(join(',', sort keys %{ $plain // {} }), 'client,status,time,uri',
   'a plain request: its URI and status, no outcome');

my $all = join "\n", @old, @new;
unlike($all, qr/\Q$code\E/, 'no code in the audit log');
unlike($all, qr/5550710001|5550710002/, 'no full number in it');

$t->done;

###############################################################################
