#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# Delivery analytics on Redis with hour hashes made by hand (HSET on
# otp:{a}:HOUR, the keys message_put.lua and status_set.lua count in):
# - a field the module cannot read (an unknown channel, a provider or a
#   country longer than it stores, a value that is no count) is skipped
#   with a warning; the rest of the hour still counts (it was a 503);
# - another app's rows do not count against the answer's row limit of
#   the http level's app;
# - a range is read in parts of 50,000 fields at most, added up;
# - more rows than NGX_HTTP_OTP_ANALYTICS_ROWS_MAX (16384): the newest
#   whole hours are kept, the current one included, and the answer says
#   "truncated": true (it kept the oldest and said nothing); a range that
#   fits is not truncated;
# - otp_smart_channels warns when its read of the window was truncated;
# - the aggregate read (op->sum, smart's) sums sent and delivered per
#   provider, country and channel over the window: smart ranks by it.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Time::HiRes qw(time sleep);
use OtpTest;

###############################################################################

my $t = OtpTest->new->need_redis;

$t->plan(14);

my $conf = <<'EOF';

%%GLOBALS%%
worker_processes 1;

events {
}

http {
    %%HTTP_GLOBALS%%

    %%STORE%%
    otp_secret_file %%SECRET%%;

    otp_provider dev log;
    otp_route sms default dev;
    otp_route whatsapp default dev;

    otp_smart_window 24h refresh=1s;

    otp_client_limit off;
    otp_resend_after 0s;

    server {
        listen 127.0.0.1:%%PORT%%;

        otp_channels whatsapp sms;

        location = /otp/send {
            otp_smart_channels on min=3;
            otp_send;
        }

        location = /otp/analytics {
            otp_analytics;
        }
    }
}

EOF

###############################################################################

# an hour that does not turn during the test
my $left = 3600 - time % 3600;
sleep($left + 1) if $left < 90;

my $H = int(time) - int(time) % 3600;

$t->write_config($conf, store => 'redis')->run;

sub hset {
    my ($hour, @fv) = @_;
    my $r = $t->redis_command('HSET', "otp:{a}:$hour", @fv);
    die "HSET otp:{a}:$hour: " . ($r // 'no answer') unless defined $r
        && $r =~ /^\d+$/;
}

sub analytics {
    my ($query) = @_;
    return $t->get('/otp/analytics' . (defined $query ? "?$query" : ''));
}

# fields the module cannot read, among ones it can

hset($H, 'c|sms|dev|44|s' => 5, 'c|sms|dev|44|d' => 4,
     'c|fax|dev|44|s' => 7, 'c|sms|' . ('p' x 60) . '|44|s' => 3,
     'c|sms|dev|12345|s' => 2, 'x|junk' => 1, 'c|sms|dev|1|s' => 'many',
     'e|sms|dev|44|' . ('E' x 40) => 9, 'c|voice|dev' => 1);

my $r = analytics();
is(($r->{status} // '') . ' '
   . join(' ', map { $r->{json}{totals}{$_} // 'null' }
                   qw(sent delivered failed)),
   '200 5 4 0', 'unreadable fields skipped, the rest counted');
like($t->read_file('error.log'),
     qr/analytics: 7 fields the module cannot read were skipped/,
     'and one warning for them');

# 17,000 rows of another app in the previous hour: not the http level's
# app's, they do not cut its answer off

hset($H - 3600, 'c|sms|dev|1|s' => 1,
     map { my $p = $_; map { ("c|sms|0123456789abcdef:p$p|$_|s" => 1) }
                           1 .. 1000 } 1 .. 17);

$r = analytics();
ok(defined $r->{json}{truncated} && !$r->{json}{truncated}
   && $r->{json}{totals}{sent} == 6,
   "another app's rows do not count against the limit")
    or diag(explain($r->{json}{totals}), " truncated: ",
            $r->{json}{truncated} // 'absent');

$t->redis_command('DEL', "otp:{a}:$H", "otp:{a}:" . ($H - 3600));

# 48 hours x 300 rows x 4 counters: 57,600 fields, read in two calls of
# 50,000 fields at most (the second from where the first stopped), 14,400
# rows: not truncated

for my $i (0 .. 47) {
    hset($H - 3600 * $i,
         map { ("c|sms|dev|$_|s" => 1, "c|sms|dev|$_|d" => 1,
                "c|sms|dev|$_|n" => 1, "c|sms|dev|$_|ms" => 100) }
             1 .. 300);
}

$r = analytics('from=' . ($H - 47 * 3600) . '&to=' . ($H + 3600));
is(join(' ', ($r->{json}{truncated} ? 'truncated' : 'whole'),
        map { $r->{json}{totals}{$_} } qw(sent delivered avg_delivery_ms)),
   'whole 14400 14400 100', 'a range read in parts, added up');
like($t->read_file('error.log'),
     qr/analytics op \S+: 12600 rows, \d+\.\.\d+ left/,
     'the second part asked for after 42 hours (12,600 rows)');

$t->redis_command('DEL', map { "otp:{a}:" . ($H - 3600 * $_) } 0 .. 47);

# 24 hours x 700 rows: 16,800 rows, more than 16,384; 67,200 fields,
# two parts, the second truncated

for my $i (0 .. 23) {
    hset($H - 3600 * $i,
         map { ("c|sms|dev|$_|s" => 1, "c|sms|dev|$_|d" => 1,
                "c|sms|dev|$_|n" => 1, "c|sms|dev|$_|ms" => 100) }
             1 .. 700);
}

my $t0 = time;
$r = analytics();
my $took = time - $t0;

my %hours = map { $_->{hour} => $_->{sent} } @{ $r->{json}{hours} || [] };
my $iso = sub {
    my @g = gmtime($_[0]);
    return sprintf('%04d-%02d-%02dT%02d:00:00Z', $g[5] + 1900, $g[4] + 1,
                   $g[3], $g[2]);
};

ok($r->{json}{truncated}, 'more rows than the limit: "truncated": true');
is($r->{json}{totals}{sent}, 23 * 700, 'the whole hours that fit counted');
is(($hours{ $iso->($H) } // 'none') . ' '
   . ($hours{ $iso->($H - 23 * 3600) } // 'none'), '700 none',
   'the newest hours kept, the oldest left out');
like($t->read_file('error.log'), qr/counts the newest hours that fit/,
     'the endpoint warns');

# a day of 700 rows an hour, 24 x 16 counters: not seconds of a worker
cmp_ok($took, '<', 3, 'read in less than 3 s') or diag("took $took s");

$r = analytics('from=' . ($H - 22 * 3600));
ok(defined $r->{json}{truncated} && !$r->{json}{truncated}
   && $r->{json}{totals}{sent} == 23 * 700,
   'a range that fits is not truncated');

# smart reads its window aggregated: one row per provider, country and
# channel, so 16,800 hour rows are 700 rows and nothing is truncated;
# +44 on SMS delivers, WhatsApp does not

hset($H, 'c|sms|dev|44|s' => 10, 'c|sms|dev|44|d' => 10,
     'c|whatsapp|dev|44|s' => 10, 'c|whatsapp|dev|44|d' => 1);

my $ch;
my $deadline = time + 5;

while (time < $deadline) {
    $r = $t->post_form('/otp/send',
                       { phone => '+447700900' . int(100 + rand 800) });
    $ch = $r->{json} ? $r->{json}{channel} : undef;
    last if ($ch // '') eq 'sms';
    sleep 0.3;
}

is($ch, 'sms', 'smart: the summed rates rank SMS first for +44');
unlike($t->read_file('error.log'), qr/otp smart channels: more than/,
       'smart: its aggregated read is not truncated');
like($t->read_file('error.log'), qr/otp smart: 701 rows, /,
     'smart: 701 sums (700 countries by SMS, +44 by WhatsApp), added up '
     . 'over the two parts read');

$t->stop;

$t->done;

###############################################################################
