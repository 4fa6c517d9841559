#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# Delivery analytics (issue 10, item 3; src/ngx_http_otp_analytics.c and
# the store's counting, ngx_http_otp_store.h "Analytics"), the same on
# both stores.  A scripted scenario: WhatsApp sends through the Twilio
# mock to three countries, signed status callbacks (delivered, read,
# read after delivered, a duplicate, failed with an error code, which
# falls back to SMS, undelivered without one), an SMS send; then GET
# /otp/analytics must count exactly that: totals, by channel and
# provider, by country, failures by error code, the hourly series, the
# p95 read from the buckets.  Then: the filters; bad from/to and a range
# longer than otp_analytics_retention are 400; a server of another app
# sees only its own provider (of the same name); the numbers stay after
# a reload; on Redis the hour's key expires at the end of the hour plus
# the retention, the STATUS_SET answer carries the record's created (the
# metrics' time to delivered), and Redis down is 503 store_unavailable.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use JSON::PP;
use IO::Socket::INET;
use Time::HiRes qw(time sleep);
use OtpTest;
use OtpStatus;
use MockProvider;

###############################################################################

my $t = OtpTest->new;

$t->plan(43 * $t->stores + 5 * (grep { $_ eq 'redis' } $t->stores));

my $mock = MockProvider->new(dir => $t->dir);

my $AC = 'ACa1b2c3d4e5f60718293a4b5c6d7e8f90';
my $TOKEN = 'tok1c0ffee5ecret0ddba11deadbeefab';
my $HX = 'HXb5b62575e6e4ff6129ad7c8efe1f983e';

$t->write_file('b.secret', ('B' x 44) . "\n", 0600);

my $conf = <<'EOF';

%%GLOBALS%%
worker_processes 2;

events {
}

http {
    %%HTTP_GLOBALS%%

    @STORE@
    otp_secret_file %%SECRET%%;
    otp_token_key_file %%TOKEN_KEY%% k1;

    otp_analytics_retention 2h;

    otp_provider tw twilio account_sid=@AC@ auth_token=@TOKEN@
                 from=+15005550006 whatsapp_from=+14155238886
                 whatsapp_content_sid=@HX@ base_url=@MOCK@;
    otp_provider dev log;

    otp_route whatsapp default tw;
    otp_route sms default dev;

    otp_price tw whatsapp default 0.0050;
    otp_price tw whatsapp +44 0.0125;
    otp_price dev sms default 0.0079;
    otp_price_currency EUR;

    otp_client_limit off;
    otp_resend_after 0s;
    otp_send_limit 1000/1h;

    server {
        listen 127.0.0.1:%%PORT%%;

        otp_public_url http://127.0.0.1:%%PORT%%;
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

        location = /otp/send-sms {
            otp_channels sms;
            otp_send;
        }

        location /otp/status/ {
            otp_status;
        }

        location = /hooks/tw {
            otp_webhook tw;
        }

        location = /otp/analytics {
            otp_analytics;
        }

        location = /metrics {
            otp_metrics;
        }
    }

    # a gated server of the http level's app: the analytics are the
    # operator's to protect, the gate does not apply to them
    server {
        listen 127.0.0.1:%%PORT2%%;

        otp_gate on;

        location = /otp/analytics {
            otp_analytics;
        }

        location = /private {
            root %%PREFIX%%;
        }
    }

    # another app, whose provider has the same name as the first's twilio
    server {
        listen 127.0.0.1:%%PORT1%%;

        otp_secret_file %%PREFIX%%/b.secret;
        otp_provider tw log;
        otp_route sms default tw;

        location = /otp/send {
            otp_send;
        }

        location = /otp/analytics {
            otp_analytics;
        }
    }
}

EOF

$conf =~ s/\@AC\@/$AC/g;
$conf =~ s/\@TOKEN\@/$TOKEN/g;
$conf =~ s/\@HX\@/$HX/g;
$conf =~ s/\@MOCK\@/$mock->url/ge;

###############################################################################

sub report {
    my ($sid, $status, %more) = @_;
    return twilio_report($t, '/hooks/tw', $TOKEN, MessageSid => $sid,
                         MessageStatus => $status, AccountSid => $AC,
                         %more);
}

sub send_to {
    my ($path, $phone, %opts) = @_;
    my $r = $t->post_form($path, { phone => $phone }, %opts);
    return $r->{status} == 202 ? $r->{json}{message_id} : undef;
}

sub analytics {
    my ($query, %opts) = @_;
    return $t->get('/otp/analytics' . (defined $query ? "?$query" : ''),
                   %opts);
}

# the fallback's record, once it is there
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

# the figures of a list of objects, keyed by some of their fields
sub keyed {
    my ($list, @key) = @_;
    return { map { my $o = $_; (join('/', map { $o->{$_} } @key) => $o) }
             @{ $list || [] } };
}

sub counts {
    my ($o, @f) = @_;
    return join(' ', map { "$_=" . ($o->{$_} // 'null') } @f);
}

sub sum_of {
    my ($list, $f) = @_;
    my $n = 0;
    $n += $_->{$f} for @{ $list || [] };
    return $n;
}

my $hour_re = qr/^\d{4}-\d\d-\d\dT\d\d:00:00Z$/;

###############################################################################

my $n = 0;

for my $store ($t->stores) {

my $store_conf = $store eq 'shm' ? 'otp_store shm:otp_74:1m;' : '%%STORE%%';
(my $c = $conf) =~ s/\@STORE\@/$store_conf/;

$t->write_config($c, store => $store)->run;
$mock->clear_requests;

my $p = sub { sprintf('%s%04d', $_[0], ++$n) };

my $t0 = time;

# A, B to +44: delivered; read (counts as delivered); C to +1: delivered,
# then read and a duplicate (counted once)

my $a = send_to('/otp/send', $p->('+4477009'));
my $b = send_to('/otp/send', $p->('+4477009'));
my $cc = send_to('/otp/send', $p->('+1555010'));

ok($a && $b && $cc, "$store: three WhatsApp messages");

report($a, 'sent');
report($a, 'delivered');
report($b, 'read');
report($cc, 'delivered');
report($cc, 'read');
report($cc, 'delivered');

# D to +254: failed with 63016, the code goes again by SMS (dev)

my $d = send_to('/otp/send', $p->('+25471100'));
is(report($d, 'failed', ErrorCode => '63016')->{status}, 200,
   "$store: a failed callback");
my $d2 = next_of($d);
like($d2 // '', qr/^log_/, "$store: the fallback sent by SMS");

# E, F to +1, no fallback: undelivered without a code, failed with one;
# a late delivered after failed counts nothing

my $e = send_to('/otp/send-nofallback', $p->('+1555010'));
my $f = send_to('/otp/send-nofallback', $p->('+1555010'));
report($e, 'undelivered');
report($f, 'failed', ErrorCode => '63016');
report($f, 'delivered');

# G: an SMS to +44, by dev

my $g = send_to('/otp/send-sms', $p->('+4477009'));
ok($e && $f && $g, "$store: three more");

# the other app's send: never in this app's figures

my $h = send_to('/otp/send', $p->('+4477009'), port => $t->port('PORT1'));
ok($h, "$store: the other app sends");

my $r = analytics();

is($r->{status}, 200, "$store: 200");
like($r->{headers}{'content-type'} // '', qr{^application/json},
     "$store: JSON");
is($r->{headers}{'cache-control'}, 'no-store', "$store: not cached");

my $j = $r->{json} || {};

like($j->{from} // '', $hour_re, "$store: from, an hour");
like($j->{to} // '', $hour_re, "$store: to, an hour");
is($j->{currency}, 'EUR', "$store: the price table's currency");

my $tot = $j->{totals} || {};

is(counts($tot, qw(sent delivered failed delivery_rate)),
   'sent=8 delivered=3 failed=3 delivery_rate=0.375',
   "$store: totals") or diag($r->{raw});

# the deliveries took milliseconds: all in the first bucket, (0, 1 s]
# and p95 interpolated at rank 2.85 of 3

is($tot->{p95_delivery_ms}, 950, "$store: p95 from the buckets");

my $ms = sum_of($j->{hours}, 'delivery_ms_sum');
my $dn = sum_of($j->{hours}, 'delivery_count');
is($dn, 3, "$store: three deliveries timed");
ok($ms <= 3 * (time - $t0) * 1000 + 3,
   "$store: the times within the scenario's");
is($tot->{avg_delivery_ms}, int($ms / 3 + 0.5), "$store: the average");

my $by = keyed($j->{by}, qw(channel provider));

is(join(',', sort keys %$by), 'sms/dev,whatsapp/tw',
   "$store: by channel and provider: the app's own");
is(counts($by->{'whatsapp/tw'}, qw(sent delivered failed delivery_rate
                                  p95_delivery_ms)),
   'sent=6 delivered=3 failed=3 delivery_rate=0.5 p95_delivery_ms=950',
   "$store: whatsapp by tw");
# the cost: WhatsApp 2 x 0.0125 (+44) + 4 x 0.0050, SMS 2 x 0.0079 (one
# segment), the fallback's included

is(join(' ', map { sprintf('%.6f', $_ // -1) } $tot->{cost},
                 $by->{'whatsapp/tw'}{cost}, $by->{'sms/dev'}{cost},
                 sum_of($j->{hours}, 'cost')),
   '0.060800 0.045000 0.015800 0.060800', "$store: the cost, exactly");

is(counts($by->{'sms/dev'}, qw(sent delivered failed delivery_rate
                               avg_delivery_ms p95_delivery_ms)),
   'sent=2 delivered=0 failed=0 delivery_rate=0 avg_delivery_ms=null '
   . 'p95_delivery_ms=null', "$store: sms by dev (the fallback's too)");

my $co = keyed($j->{countries}, qw(country channel));

is(join(' ', map { "$_:" . counts($co->{$_}, qw(sent delivered failed)) }
             sort keys %$co),
   '1/whatsapp:sent=3 delivered=1 failed=2 '
   . '254/sms:sent=1 delivered=0 failed=0 '
   . '254/whatsapp:sent=1 delivered=0 failed=1 '
   . '44/sms:sent=1 delivered=0 failed=0 '
   . '44/whatsapp:sent=2 delivered=2 failed=0',
   "$store: by country and channel");

is(join(' ', map { "$_->{error_code}/$_->{channel}/$_->{provider}="
                   . $_->{count} } @{ $j->{failures} || [] }),
   '63016/whatsapp/tw=2 unknown/whatsapp/tw=1',
   "$store: failures, the most frequent first");

my $hours = $j->{hours} || [];
ok(@$hours >= 2 && !(grep { $_->{hour} !~ $hour_re } @$hours),
   "$store: the hourly series");
is(sum_of($hours, 'sent') . ' ' . sum_of($hours, 'delivered') . ' '
   . sum_of($hours, 'failed'), '8 3 3', "$store: the series sums up");
ok(!(grep { $hours->[$_]{hour} lt $hours->[$_ - 1]{hour} } 1 .. $#$hours),
   "$store: ascending");

# the metrics' time to delivered needs the record's created, which the
# Redis STATUS_SET answer lacked: A and C went to delivered (B to read)

like($t->get('/metrics')->{raw},
     qr/^otp_delivery_duration_seconds_count
        \{[^}]*channel="whatsapp"[^}]*\}\ 2\r?$/mx,
     "$store: the metrics timed both deliveries");

# filters

is(counts(analytics('channel=sms')->{json}{totals}, qw(sent failed)),
   'sent=2 failed=0', "$store: channel=sms");
is(counts(analytics('provider=tw')->{json}{totals}, qw(sent delivered)),
   'sent=6 delivered=3', "$store: provider=tw");
is(counts(analytics('country=44')->{json}{totals}, qw(sent delivered)),
   'sent=3 delivered=2', "$store: country=44");

$r = analytics('country=1&channel=whatsapp');
is(counts($r->{json}{totals}, qw(sent failed)) . ' '
   . scalar(@{ $r->{json}{failures} }),
   'sent=3 failed=2 2', "$store: country=1&channel=whatsapp");

# an explicit range, RFC 3339 (escaped) and unix seconds; a range before
# anything was sent is empty

my $now = time;
my $hour = int($now / 3600) * 3600;
my @gm = gmtime($hour);
my $iso = sprintf('%04d-%02d-%02dT%02d:00:00Z', $gm[5] + 1900, $gm[4] + 1,
                  $gm[3], $gm[2]);

$r = analytics('from=' . ($hour - 3600) . '&to=' . ($hour + 3600));
is($r->{json}{to}, sprintf('%04d-%02d-%02dT%02d:00:00Z', (gmtime($hour
   + 3600))[5] + 1900, (gmtime($hour + 3600))[4] + 1, (gmtime($hour
   + 3600))[3], (gmtime($hour + 3600))[2]), "$store: to, unix seconds");

$r = analytics('from=' . ($hour - 7200) . '&to=' . ($iso =~ s/:/%3A/gr));
is($r->{status} . ' ' . scalar(@{ $r->{json}{hours} || [] }), '200 0',
   "$store: an earlier range (RFC 3339, escaped): nothing");

# bad requests

for my $q ('from=yesterday', 'to=2026-02-30T00:00:00Z',
           "from=$hour&to=$hour", 'from=' . ($hour - 3 * 3600),
           'channel=fax', 'country=4x')
{
    $r = analytics($q);
    is(($r->{status} // '') . ' ' . ($r->{json} ? $r->{json}{error} : ''),
       '400 invalid_request', "$store: $q is 400");
}

is($t->post('/otp/analytics', 'text/plain', 'x')->{status}, 405,
   "$store: POST is 405");

# the other app sees its own "tw", a log provider, and only it

$r = analytics(undef, port => $t->port('PORT1'));
is(join(' ', map { "$_->{channel}/$_->{provider}=$_->{sent}" }
             @{ $r->{json}{by} || [] }),
   'sms/tw=1', "$store: the other app's own figures");
is($r->{json}{currency}, '', "$store: and no price table, no currency");

# a server's otp_gate does not apply to its otp_analytics location

is(analytics(undef, port => $t->port('PORT2'))->{json}{totals}{sent} . ' '
   . $t->get('/private', port => $t->port('PORT2'))->{status}, '8 401',
   "$store: otp_gate: analytics answered, a gated page refused");

# a reload keeps them

my $before = analytics()->{json}{totals};
$t->reload;
is_deeply(analytics()->{json}{totals}, $before, "$store: after a reload");

if ($store eq 'redis') {

    # the hour's key lives until the end of its hour plus the retention

    my $keys = $t->redis_command('KEYS', 'otp:{a}:*') // [];
    my ($key) = grep { /^otp:\{a\}:\d+$/ } ref $keys ? @$keys : ($keys);
    my ($at) = ($key // '') =~ /(\d+)$/;
    my $pttl = $t->redis_command('PTTL', $key // 'none');
    my $left = ($at // 0) * 1000 + 3600 * 1000 + 7200 * 1000 - time * 1000;

    ok(defined $at && $pttl > 0 && abs($pttl - $left) < 5000,
       "redis: expires at the hour's end + 2h") or diag("$key $pttl $left");

    # a client that leaves while the store has not answered: its
    # operation is cancelled (the late reply frees it), 499, and the next
    # request is answered

    $t->redis_command('CLIENT', 'PAUSE', 1000);
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $t->port)
        or die "connect: $!";
    print $s "GET /otp/analytics HTTP/1.1\r\nHost: localhost\r\n\r\n";
    sleep 0.3;
    close $s;
    sleep 1.2;

    like($t->read_file('access.log'), qr{"GET /otp/analytics HTTP/1\.1" 499 },
         'redis: a client gone before the store answered: 499');
    like($t->read_file('error.log'),
         qr/otp analytics request gone: cancel op/,
         'redis: and its operation cancelled');
    is(analytics()->{status}, 200, 'redis: the next request answered');

    $t->stop_redis;
    $r = analytics();
    is(($r->{status} // '') . ' ' . ($r->{json} ? $r->{json}{error} : ''),
       '503 store_unavailable', 'redis: Redis down is 503');
    $t->start_redis;
}

$t->stop;
}

$t->done;

###############################################################################
