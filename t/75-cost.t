#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# Cost: a price table (otp_price, otp_price_file, otp_price_currency)
# gives every accepted message an estimated cost, in $otp_cost and in
# otp_cost_total.  On both stores: an SMS costs its price per segment
# (GSM-7 one and two segments, UCS-2 two where GSM-7 would take one), a
# WhatsApp message and a voice call their price; the longest matching
# prefix wins over a shorter one and the default; a provider without a
# price leaves $otp_cost empty and its series still; another app's
# provider of the same name has its own prices and its own series; a
# fallback's SMS is counted; the counter moves by exactly the sum.  With no table at all:
# $otp_cost empty, every series at zero, the currency USD.  nginx -t
# refuses a bad price file with its name and line, an unknown provider,
# a duplicate entry (with both places), a bad price, a channel the
# provider does not carry and a bad currency.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use JSON::PP;
use Digest::SHA qw(hmac_sha256_hex);
use IO::Socket::INET;
use Time::HiRes qw(time sleep);
use OtpTest;
use OtpStatus;
use MockProvider qw(form_hash);

###############################################################################

my $t = OtpTest->new;

$t->plan(28 * $t->stores + 10);

my $mock = MockProvider->new(dir => $t->dir);

my $AC = 'ACa1b2c3d4e5f60718293a4b5c6d7e8f90';
my $TOKEN = 'tok1c0ffee5ecret0ddba11deadbeefab';
my $HX = 'HXb5b62575e6e4ff6129ad7c8efe1f983e';

# 160 GSM-7 characters and the code: two segments (153 + 14)
my $LONG = 'A' x 160;

# "ł" is no GSM-7 character: UCS-2, 70 units a segment; 1 + 64 + 1 + 6 =
# 72 units is two, where 72 GSM-7 characters would be one
my $UCS2 = "\x{c5}\x{82}" . ('a' x 64);

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
    otp_provider free log;

    otp_route whatsapp default tw;
    otp_route sms default dev;
    otp_route sms +1999 free;
    otp_route voice default dev;

    @PRICES@

    log_format cost escape=json
        '{"result":"$otp_result","channel":"$otp_channel",'
        '"provider":"$otp_provider","message_id":"$otp_message_id",'
        '"cost":"$otp_cost"}';

    # the audit log's member of it
    log_format audit escape=none '{$otp_audit}';

    server {
        listen 127.0.0.1:%%PORT%%;

        otp_public_url http://127.0.0.1:%%PORT%%;
        otp_client_limit off;
        otp_resend_after 0s;
        otp_channels sms whatsapp voice;
        otp_app_name Example;
        otp_message sms en "Your ${app} code is ${code}";
        otp_message sms de "@LONG@ ${code}";
        otp_message sms pl "@UCS2@ ${code}";

        access_log %%PREFIX%%/cost.log cost;
        access_log %%PREFIX%%/audit.log audit if=$otp_result;

        location = /otp/send {
            otp_send;
        }

        location = /otp/send-fallback {
            otp_channels whatsapp sms;
            otp_fallback on;
            otp_send;
        }

        location /otp/status/ {
            otp_status;
        }

        location = /hooks/tw {
            otp_webhook tw;
        }

        location = /metrics {
            access_log off;
            otp_metrics;
        }
    }

    # an app of its own: its "dev" is another provider, with its prices
    server {
        listen 127.0.0.1:%%PORT2%%;

        otp_secret_file %%PREFIX%%/b.secret;
        otp_provider dev log;
        @PRICES2@

        otp_client_limit off;
        access_log %%PREFIX%%/cost.log cost;

        location = /otp/send {
            otp_send;
        }
    }
}

EOF

my $PRICES = <<'EOF';
otp_price_currency EUR;
    otp_price_file %%PREFIX%%/prices.txt;
    otp_price tw whatsapp default 0.0085;
EOF

$conf =~ s/\@AC\@/$AC/g;
$conf =~ s/\@TOKEN\@/$TOKEN/g;
$conf =~ s/\@HX\@/$HX/g;
$conf =~ s/\@MOCK\@/$mock->url/ge;
$conf =~ s/\@LONG\@/$LONG/g;
$conf =~ s/\@UCS2\@/$UCS2/g;

sub config {
    my ($prices, $prices2) = @_;
    (my $c = $conf) =~ s/\@PRICES\@/$prices/;
    $c =~ s/\@PRICES2\@/$prices2 \/\/ ''/e;
    return $c;
}

my $PRICES2 = 'otp_price dev sms default 0.05;';

$t->write_file('b.secret', ('B' x 44) . "\n", 0600);
my $APP_B = substr(hmac_sha256_hex('otp-app-id', 'B' x 44), 0, 16);

$t->write_file('prices.txt', <<'EOF');
# dev's SMS, per segment; its calls, per call
dev  sms    default  0.0079;
dev  sms    +44      0.0400;
dev  sms    +447     0.0450;    # UK mobiles

dev  voice  default  0.013;
EOF

###############################################################################

# a decimal as integer millionths, so that sums are exact
sub millionths {
    my ($s) = @_;
    return undef unless defined $s && $s =~ /^(\d+)(?:\.(\d{1,6}))?$/;
    return $1 * 1000000 + substr(($2 // '') . '000000', 0, 6);
}

# otp_cost_total's samples: { "[app/]provider/channel" => millionths }, and its
# HELP and TYPE lines; dies when a sample line is malformed
sub costs {
    my $r = $t->get('/metrics');
    die "scrape: $r->{status}\n" unless $r->{status} == 200;

    my (%v, @meta);

    for (split /\n/, $r->{body}) {
        push @meta, $_ if /^# (?:HELP|TYPE) otp_cost_total /;
        next unless /^otp_cost_total/;

        /^otp_cost_total\{(?:app="([0-9a-f]{16})",)?provider="([\w-]+)",channel="(\w+)"\} (\d+\.\d{2,6})$/
            or die "a bad sample: $_\n";
        my $k = ($1 ? "$1/" : '') . "$2/$3";
        die "a series twice: $_\n" if exists $v{$k};
        $v{$k} = millionths($4);
    }

    return (\%v, @meta);
}

# the cost.log (or audit.log) line of a message id: nginx writes it once
# the answer is sent, so it may come a moment after (up to 3 s)
sub logged {
    my ($id, $file) = @_;

    my $deadline = time + 3;

    while (1) {
        for (reverse split /\n/, $t->read_file($file // 'cost.log') // '') {
            my $j = eval { decode_json($_) } or next;
            return $j if ($j->{message_id} // '') eq $id;
        }

        return undef if time > $deadline;
        sleep 0.02;
    }
}

my $n = 0;

sub send_to {
    my ($phone, %f) = @_;

    my @port = exists $f{port} ? (port => delete $f{port}) : ();
    my $r = $t->post_form('/otp/send', { phone => $phone, %f }, @port);
    my $id = $r->{json} ? $r->{json}{message_id} // '' : '';
    $t->code_for($id) if $r->{status} == 202 && $id =~ /^log_/;

    return ($r, $id);
}

# $otp_cost of a send, or "status N" when it was not accepted
sub cost_of {
    my ($r, $id) = send_to(@_);
    return "status $r->{status}" unless $r->{status} == 202;
    my $l = logged($id);
    return $l ? $l->{cost} : 'no log line';
}

sub phone { sprintf('+1555010%04d', ++$n) }

sub report {
    my ($sid, $status, %more) = @_;
    return twilio_report($t, '/hooks/tw', $TOKEN, MessageSid => $sid,
                         MessageStatus => $status, AccountSid => $AC,
                         %more);
}

# waits up to 3 s for the fallback's record of message $sid
sub next_of {
    my ($sid) = @_;

    my $deadline = time + 3;

    while (time < $deadline) {
        my $r = $t->get("/otp/status/$sid");
        return $r->{json}{next_message_id}
            if $r->{json} && $r->{json}{next_message_id};
        sleep 0.05;
    }

    return undef;
}

###############################################################################

for my $store ($t->stores) {
    $t->write_config(config($PRICES, $PRICES2), store => $store)->run;

    my ($before, @meta) = costs();

    is_deeply(\@meta, [
        '# HELP otp_cost_total Estimated cost of the messages providers '
        . 'accepted, in EUR (otp_price), by app, provider and channel.',
        '# TYPE otp_cost_total counter',
    ], "$store: otp_cost_total: a counter, its HELP names the currency");

    is(join(' ', map { "$_=$before->{$_}" } sort keys %$before),
       "$APP_B/dev/sms=0 $APP_B/dev/voice=0 $APP_B/dev/whatsapp=0 "
       . 'dev/sms=0 dev/voice=0 dev/whatsapp=0 free/sms=0 free/voice=0 '
       . 'free/whatsapp=0 tw/sms=0 tw/whatsapp=0',
       "$store: a series per provider and channel it carries, at zero");

    # SMS: per segment

    is(cost_of(phone()), '0.0079', "$store: GSM-7, one segment: 0.0079");
    is(cost_of(phone(), locale => 'de'), '0.0158',
       "$store: GSM-7, two segments: 2 x 0.0079");
    is(cost_of(phone(), locale => 'pl'), '0.0158',
       "$store: UCS-2, two segments (72 units): 2 x 0.0079");

    # the longest prefix

    is(cost_of('+447700900123'), '0.045', "$store: +447 over +44");
    is(cost_of('+442079460000'), '0.04', "$store: +44 over the default");

    # per message, per call

    is(cost_of(phone(), channel => 'voice'), '0.013',
       "$store: a call: its price, whatever the text");

    my ($r, $sid) = send_to(phone(), channel => 'whatsapp');
    is($r->{status}, 202, "$store: whatsapp accepted by the mock");
    is(logged($sid) && logged($sid)->{cost}, '0.0085',
       "$store: a WhatsApp message: its price");
    is(logged($sid, 'audit.log') && logged($sid, 'audit.log')->{cost},
       '0.0085', "$store: the same in \$otp_audit");

    # no price: no cost

    ($r, my $id) = send_to('+19995550000');
    is($r->{status}, 202, "$store: a provider with no price");
    my $l = logged($id);
    ok($l && $l->{provider} eq 'free' && $l->{result} eq 'sent'
       && $l->{cost} eq '', "$store: its \$otp_cost is empty");
    $l = logged($id, 'audit.log');
    ok($l && $l->{provider} eq 'free' && !exists $l->{cost},
       "$store: no cost member in \$otp_audit");

    # another app's provider of the same name: its own prices

    ($r, $id) = send_to(phone(), port => $t->port('PORT2'));
    is($r->{status}, 202, "$store: a send through the other app");
    is(logged($id) && logged($id)->{cost}, '0.05',
       "$store: priced by its own \"dev\", not the http level's");

    # a fallback's SMS

    my $phone = phone();
    ($r, $sid) = (undef, undef);
    $r = $t->post_form('/otp/send-fallback', { phone => $phone });
    $sid = $r->{json} ? $r->{json}{message_id} // '' : '';
    ok($r->{status} == 202 && $r->{json}{channel} eq 'whatsapp',
       "$store: a code by WhatsApp, SMS its fallback");

    # the code is the mock's: the log checks look for it too
    my ($req) = grep {
        my $b = $_->{answer}{body} // '';
        (ref $b ? encode_json($b) : $b) =~ /\Q$sid\E/
    } $mock->requests(qr{/Messages\.json$});
    my %f = form_hash($req ? $req->{body} : '');
    my $code = eval { decode_json($f{ContentVariables})->{1} };
    $t->{codes}{$code} = 1 if defined $code;

    is(report($sid, 'failed', ErrorCode => '63016')->{status}, 200,
       "$store: its WhatsApp message failed");

    my $next = next_of($sid);
    like($next // '', qr/^log_/, "$store: the code went again by SMS");
    $t->code_for($next) if $next;

    like($t->read_file('error.log'),
         qr/otp provider "dev": cost 0\.0079\b/,
         "$store: the fallback's SMS priced (debug log)");

    # the counter: exactly the sums

    my ($after) = costs();
    my %delta = map { $_ => $after->{$_} - ($before->{$_} // 0) }
                keys %$after;

    is($delta{'dev/sms'},
       millionths('0.0079') * 6 + millionths('0.045')
       + millionths('0.04'),
       "$store: dev's SMS: 1 + 2 + 2 segments, +447, +44 and the "
       . "fallback's");
    is($delta{'dev/voice'}, millionths('0.013'), "$store: dev's call");
    is($delta{'tw/whatsapp'}, 2 * millionths('0.0085'),
       "$store: tw's two WhatsApp messages");
    is($delta{'free/sms'}, 0, "$store: the provider with no price: still");
    is($delta{"$APP_B/dev/sms"}, millionths('0.05'),
       "$store: the other app's series, by its app label");

    # clients that send their body and hang up at once: the log
    # provider's answer is posted, and the request may be gone when it
    # runs; a message that went is costed from the text while the request
    # was there (the sanitizer pass of scripts/test reads this with ASan)

    ($before) = costs();

    for (1 .. 3) {
        (my $body = 'phone=' . phone()) =~ s/\+/%2B/;
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1:'
                                                  . $t->port('PORT'))
            or die "connect: $!\n";
        print $s "POST /otp/send HTTP/1.1\r\nHost: localhost\r\n"
                 . "Content-Type: application/x-www-form-urlencoded\r\n"
                 . "Content-Length: " . length($body) . "\r\n\r\n$body";
        close $s;
    }

    sleep 0.5;
    ($after) = costs();
    my $gone = $after->{'dev/sms'} - $before->{'dev/sms'};
    ok($gone % millionths('0.0079') == 0
       && $gone <= 3 * millionths('0.0079'),
       "$store: clients gone at once: whole messages costed ($gone)");

    # no table at all

    $t->stop;
    $t->write_config(config(''), store => $store)->run;

    is(cost_of(phone()), '', "$store: no price table: \$otp_cost empty");

    my ($none, @m) = costs();
    ok(!grep({ $_ != 0 } values %$none) && keys %$none == 11
       && $m[0] =~ / in USD /,
       "$store: every series still at zero, the currency USD");

    $t->stop;
}

###############################################################################

# nginx -t

sub refused {
    my ($file, $prices) = @_;
    $t->write_file('bad.txt', $file) if defined $file;
    return $t->check_config(config($prices));
}

my $dir = $t->dir;

my $out = refused("dev sms default 0.0079;\n\ndev sms +44 0,04;\n",
                  "otp_price_file $dir/bad.txt;");
like($out, qr/\[emerg\] \d+#\d+: invalid price: .* in \Q$dir\E\/bad\.txt:3\n/,
     'nginx -t: a bad price, with the file and line');
like($out, qr/test failed/, 'nginx -t: failed');

like(refused("# a comment\nnope sms default 0.01;\n",
             "otp_price_file $dir/bad.txt;"),
     qr/\[emerg\] \d+#\d+: unknown provider "nope": .* in \Q$dir\E\/bad\.txt:2\n/,
     'nginx -t: an unknown provider in a file, with its line');

like(refused("dev sms +44\n  0.04\n", "otp_price_file $dir/bad.txt;"),
     qr/\[emerg\] \d+#\d+: unexpected end of file, expecting ";" in \Q$dir\E\/bad\.txt:1\n/,
     'nginx -t: a missing ";", at the entry\'s line');

like(refused("dev sms +44 0.04;\n",
             "otp_price_file $dir/bad.txt;\n    otp_price dev sms 44 0.05;"),
     qr/\[emerg\] \d+#\d+: duplicate price for "dev" sms \+44 in \S+nginx\.conf:\d+ \(first in \Q$dir\E\/bad\.txt:1\)/,
     'nginx -t: the same entry twice, across file and directive');

like(refused(undef, 'otp_price dev sms +44 0.0000001;'),
     qr/\[emerg\] \d+#\d+: invalid price: .* in \S+nginx\.conf:\d+/,
     'nginx -t: a price finer than a millionth');

like(refused(undef, 'otp_price tw voice default 0.01;'),
     qr/\[emerg\] \d+#\d+: provider "tw" cannot carry voice in \S+nginx\.conf:\d+/,
     'nginx -t: a price for a channel the provider does not carry');

like(refused(undef, 'otp_price_currency usd;'),
     qr/\[emerg\] \d+#\d+: invalid currency "usd"/, 'nginx -t: a bad currency');

like(refused(undef, "otp_price_file $dir/absent.txt;"),
     qr/\[emerg\] \d+#\d+: open\(\) "\Q$dir\E\/absent\.txt" failed/,
     'nginx -t: a price file that is not there');

like(refused("dev sms default 0.0079;\n", "otp_price_file $dir/bad.txt;"),
     qr/test is successful/, 'nginx -t: a good file passes');

###############################################################################

$t->done;

###############################################################################
