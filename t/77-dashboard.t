#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# otp_dashboard: the analytics page built into the module.  Without a
# browser: the page's headers (a Content-Security-Policy naming the page's
# one inline script and style by the SHA-256 of their text as served,
# nosniff, no-cache with an ETag that answers 304), the configured URI
# HTML-escaped into it, HEAD, 405 on POST, nothing external in it, the
# directive's duplicates refused, and src/ngx_http_otp_dashboard_html.h
# what scripts/embed-dashboard writes from src/dashboard/dashboard.html.
#
# In Debian's chromium (t/browser/dashboard.mjs, playwright-core, as
# t/61-browser.t): nginx serves the page pointed at fixture JSON that
# follows otp_analytics's answer (README, otp_analytics), served
# by nginx too (a map picks the 7-day file by the from= the page asks
# for).  The browser's clock is fixed, so the ranges it asks for are
# known.  Asserted: the figures drawn (totals, rates per channel and per
# provider, the top failure code, cost per day, the hourly bars), the 24 h
# / 7 d toggle fetching again with from/to, an empty install, a 503 shown
# as a message, a 400 with the endpoint's sentence (as text), hostile text
# from the JSON shown as text, no console error, no CSP violation, and
# nothing wider than the screen at 1280x800 and 390x844; a dark colour
# scheme followed.  The laptop view is saved as a screenshot in the test's
# output directory; TEST_DASHBOARD_PNG=docs/dashboard.png refreshes the
# README's (a test never writes into the checkout by itself).
#
# OTP_TEST_BROWSER=0 skips the browser part, as in t/61-browser.t.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Cwd qw(abs_path);
use Digest::SHA qw(sha256_base64);
use File::Path qw(make_path);
use JSON::PP;
use POSIX qw(strftime floor);
use Test::More;
use OtpTest;

###############################################################################

my $root = abs_path("$FindBin::Bin/..");
my $chromium = $ENV{TEST_CHROMIUM} || '/usr/bin/chromium';
my $pw = "$root/t/browser/node_modules/playwright-core";
my ($node) = grep { -x } map { "$_/node" } split /:/, $ENV{PATH} || '';

my $browser = !(defined $ENV{OTP_TEST_BROWSER}
                && $ENV{OTP_TEST_BROWSER} eq '0');

my @missing = !$browser ? () :
              ((-x $chromium ? () : "chromium ($chromium)"),
               (-d $pw ? () : "playwright-core ($pw)"),
               ($node ? () : 'node'));

my @SCENARIOS = qw(laptop toggle dark phone empty unavailable refused
                   hostile);

my $t = OtpTest->new;

my $conf = <<'EOF';

%%GLOBALS%%
worker_processes 1;

events {
}

http {
    %%HTTP_GLOBALS%%

    # the 7-day file when the page asks for the 7 days before its fixed
    # clock's next hour
    map $arg_from $fixture {
        ~^2026-11-23T20   week;
        default           day;
    }

    server {
        listen 127.0.0.1:%%PORT%%;

        location = /otp/dashboard {
            otp_dashboard /fixture;
        }

        location = /dash/empty {
            otp_dashboard /fixture-empty;
        }

        location = /dash/down {
            otp_dashboard /fixture-down;
        }

        location = /dash/refused {
            otp_dashboard /fixture-refused;
        }

        location = /dash/hostile {
            otp_dashboard /fixture-hostile;
        }

        location = /dash/escaped {
            otp_dashboard "/a?x=1&y=\"2\"<b>";
        }

        location = /dash/default {
            otp_dashboard;
        }

        # an "if" and a "limit_except" block run the location's handler
        # with a configuration of their own
        location = /dash/blocks {
            otp_dashboard /fixture;

            if ($arg_if) {
                add_header X-If yes always;
            }

            limit_except GET {
                allow all;
            }
        }

        location = /fixture {
            default_type application/json;
            alias %%PREFIX%%/fixture-$fixture.json;
        }

        location = /fixture-empty {
            default_type application/json;
            alias %%PREFIX%%/fixture-empty.json;
        }

        location = /fixture-hostile {
            default_type application/json;
            alias %%PREFIX%%/fixture-hostile.json;
        }

        location = /fixture-down {
            default_type application/json;
            return 503 '{"error":"store_unavailable","message":"down"}';
        }

        location = /fixture-refused {
            default_type application/json;
            return 400
                '{"error":"invalid_request","message":"<b>Too long</b>"}';
        }
    }
}


EOF

$t->plan(22 + ($browser ? (@missing ? 1 : @SCENARIOS + 1) : 0));

###############################################################################

# the generated header is what the script writes from the page

my $generated = `$root/scripts/embed-dashboard`;
is($?, 0, 'scripts/embed-dashboard runs');
ok($generated eq slurp("$root/src/ngx_http_otp_dashboard_html.h"),
   'src/ngx_http_otp_dashboard_html.h is up to date'
   . ' (scripts/embed-dashboard > src/ngx_http_otp_dashboard_html.h)');

# duplicates: one content handler per location

my $other = qr/"otp_dashboard" directive conflicts with another content/;

for my $c ([ 'otp_dashboard; otp_dashboard /x;', 'twice',
             qr/"otp_dashboard" directive is duplicate/ ],
           [ 'otp_send; otp_dashboard;', 'otp_send',
             qr/"otp_dashboard" directive is duplicate/ ],
           [ 'proxy_pass http://127.0.0.1:1; otp_dashboard;', 'proxy_pass',
             $other ],
           [ 'otp_metrics; otp_dashboard;', 'otp_metrics', $other ],
           [ 'otp_dashboard; otp_send;', 'otp_dashboard, otp_send',
             qr/"otp_send" directive conflicts with another content/ ])
{
    my $out = $t->check_config(<<"EOF");
%%GLOBALS%%
events {
}
http {
    %%HTTP_GLOBALS%%
    server {
        listen 127.0.0.1:%%PORT%%;
        location / { $c->[0] }
    }
}
EOF
    like($out, $c->[2], "$c->[1]: refused") or diag($out);
}

# the fixtures the browser part reads: realistic figures for the laptop
# view and the README's screenshot

my $NOW = '2026-11-30T19:25:00Z';           # the browser's fixed clock
my $HOUR = 3600;
my $TO = 1796068800;                         # 2026-11-30T20:00:00Z
die "the fixed dates disagree\n"
    unless iso($TO) eq '2026-11-30T20:00:00Z';

my %fixture = (day => fixture($TO - 24 * $HOUR, $TO),
               week => fixture($TO - 168 * $HOUR, $TO));

$t->write_file("fixture-$_.json", encode_json($fixture{$_}))
    for keys %fixture;

$t->write_file('fixture-empty.json', encode_json({
    from => iso($TO - 24 * $HOUR), to => iso($TO), currency => '',
    totals => { sent => 0, delivered => 0, failed => 0,
                delivery_rate => undef, avg_delivery_ms => undef,
                p95_delivery_ms => undef, cost => 0 },
    by => [], countries => [], failures => [], hours => [] }));

# provider and error code text as a provider might send it: shown as
# text, never run
my $EVIL_CODE = '<img src=x onerror="window.__xss=1">';
my $EVIL_PROVIDER = '<script>window.__xss=2</script>';
my $hostile = fixture($TO - 24 * $HOUR, $TO);
$hostile->{failures}[0]{error_code} = $EVIL_CODE;
$hostile->{by}[0]{provider} = $EVIL_PROVIDER;
$hostile->{truncated} = JSON::PP::true;
$t->write_file('fixture-hostile.json', encode_json($hostile));

$t->write_config($conf)->run;

###############################################################################

my $r = $t->get('/otp/dashboard');
my $h = $r->{headers};
my $body = $r->{body} // '';

is(($r->{status} // 0) . ' ' . ($h->{'content-type'} // ''),
   '200 text/html; charset=utf-8', 'the page: 200, text/html');

my ($script) = $body =~ m{<script>(.*?)</script>}s;
my ($style) = $body =~ m{<style>(.*?)</style>}s;
my $csp = $h->{'content-security-policy'} // '';
my %dir = map { /^\s*(\S+)\s*(.*?)\s*$/ ? ($1 => $2) : () } split /;/, $csp;

is_deeply(\%dir, {
    'default-src' => "'none'",
    'script-src' => "'sha256-" . b64(sha256_base64($script // '')) . "'",
    'style-src' => "'sha256-" . b64(sha256_base64($style // '')) . "'",
    'connect-src' => "'self'",
    'img-src' => 'data:',
    'base-uri' => "'none'",
    'form-action' => "'none'",
    'frame-ancestors' => "'none'",
}, 'CSP: nothing but the inline script and style, by hash; fetches to'
   . ' the own origin') or diag($csp);

is(join(' ', map { $h->{$_} // '-' }
        qw(x-content-type-options cache-control x-frame-options
           referrer-policy)),
   'nosniff no-cache DENY no-referrer', 'nosniff, no-cache, no framing');

ok($body =~ m{<meta name="otp-analytics" content="/fixture">}
   && length($body) == ($h->{'content-length'} // -1),
   'the analytics URI in the page; Content-Length right');

# nothing from elsewhere: no src= at all, no href but the data: icon, no
# URL of another site
my @ext = ($body =~ /\ssrc\s*=/gi,
           grep { $_ ne 'data:,' } $body =~ /\shref\s*=\s*"([^"]*)"/gi,
           grep { $_ ne 'http://www.w3.org/2000/svg' }     # a name
           $body =~ m{((?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}[^'"\s]*)}gi);
is_deeply(\@ext, [], 'no external asset');

my $etag = $h->{etag} // '';
like($etag, qr/^"[0-9a-f]{16}-[0-9a-f]{8}"$/, 'an ETag');

$r = $t->get('/otp/dashboard', headers => { 'If-None-Match' => $etag });
is($r->{status}, 304, 'If-None-Match: 304');

# the raw answer: the harness's parser would wait for Content-Length bytes
$r = $t->http(HEAD => '/otp/dashboard');
my $raw = $r->{raw} // '';
ok($raw =~ m{^HTTP/1\.1 200 .*\r\nContent-Length: (\d+)\r\n.*\r\n\r\n\z}s
   && $1 == length($body)
   && index($raw, "\r\nContent-Security-Policy: $csp\r\n") > 0,
   'HEAD: the headers, no body') or diag($raw);

$r = $t->http(POST => '/otp/dashboard', 'a=b',
              headers => { 'Content-Type'
                           => 'application/x-www-form-urlencoded' });
my $j = eval { decode_json($r->{body}) } || {};
is(($r->{status} // 0) . ' ' . ($r->{headers}{allow} // '') . ' '
   . ($j->{error} // ''), '405 GET, HEAD method_not_allowed',
   'POST: 405, JSON, Allow');

$r = $t->get('/dash/escaped');
like($r->{body} // '',
     qr{<meta\ name="otp-analytics"
        \ content="/a\?x=1&amp;y=&quot;2&quot;&lt;b&gt;">}x,
     'the URI HTML-escaped');

my $etag2 = $r->{headers}{etag} // '';
ok($etag2 ne $etag && substr($etag2, 0, 17) eq substr($etag, 0, 17),
   'another URI, another ETag');

$r = $t->get('/dash/default');
like($r->{body} // '', qr{<meta name="otp-analytics" content="analytics">},
     'default: "analytics", relative to the page');

$r = $t->get('/dash/blocks?if=1');
ok($r->{status} == 200 && ($r->{headers}{'x-if'} // '') eq 'yes'
   && $r->{body} =~ m{<meta name="otp-analytics" content="/fixture">},
   'in an "if" block: the page');

$r = $t->http(POST => '/dash/blocks', '');
is(($r->{status} // 0) . ' ' . ($r->{headers}{allow} // ''),
   '405 GET, HEAD', 'in a "limit_except" block: 405');

# the fixture as the page reads it
$r = $t->get('/fixture?from=2026-11-23T20%3A00%3A00Z&to=x');
is(eval { decode_json($r->{body})->{totals}{sent} },
   $fixture{week}{totals}{sent}, 'the 7-day fixture for from= 7 days back');

###############################################################################

if ($browser && @missing) {
    fail('the browser test needs ' . join(', ', @missing));
    diag('run scripts/install-deps (as root) to install them, or set'
         . ' OTP_TEST_BROWSER=0 to skip the browser part');

} elsif ($browser) {
    browser_part();
}

$t->done;

###############################################################################

sub browser_part {
    my $out = $ENV{TEST_OUTPUT_DIR} || "$root/build/test-output/dashboard";
    make_path($out);
    unlink glob("$out/*.png");

    my $png = $ENV{TEST_DASHBOARD_PNG} || "$out/dashboard.png";

    # what the page must show, from the fixtures
    $t->write_file('expect.json', encode_json({
        now => $NOW,
        day => expect($fixture{day}),
        week => expect($fixture{week}),
        evil_code => $EVIL_CODE,
        evil_provider => $EVIL_PROVIDER,
    }));

    local $ENV{DASH_URL} = 'http://127.0.0.1:' . $t->port;
    local $ENV{EXPECT} = $t->dir . '/expect.json';
    local $ENV{OUT_DIR} = $out;
    local $ENV{SCREENSHOT} = $png;
    local $ENV{CHROMIUM} = $chromium;

    my (%result, @lines);

    my $pid = open(my $fh, '-|') // die "fork: $!";

    if ($pid == 0) {
        open STDERR, '>&', \*STDOUT;
        exec($node, "$root/t/browser/dashboard.mjs") or POSIX::_exit(127);
    }

    local $SIG{ALRM} = sub {
        kill 'KILL', $pid;
        die "the browser run took over 90 s\n";
    };
    alarm 90;

    while (my $line = <$fh>) {
        chomp $line;
        push @lines, $line;
        $result{$2} = $1 eq 'ok' ? '' : $3
            if $line =~ /^(ok|not ok) (\w+)(?::\s*(.*))?$/;
    }

    close $fh;
    alarm 0;

    diag("dashboard.mjs: $_") for grep { !/^(ok|not ok) \w+/ } @lines;

    for my $name (@SCENARIOS) {
        ok(defined $result{$name} && $result{$name} eq '',
           "browser: $name") or diag($result{$name} // 'no result');
    }

    ok(-s $png && (stat $png)[9] >= $^T, "the screenshot $png");
    diag("screenshots in $out");
}

# A day or a week of hourly buckets as otp_analytics answers them: four
# channel+provider keys with a daily rhythm, figures that depend on the
# hour alone (the same hour in both fixtures has the same figures), the
# totals and the per-key rows their sums, as the endpoint computes them.

sub fixture {
    my ($from, $to) = @_;

    my @keys = (
        # channel, provider, share of traffic, delivered, failed, ms, cost
        [ 'sms', 'twilio', 0.46, 0.955, 0.025, 2600, 7900 ],
        [ 'whatsapp', 'meta', 0.34, 0.972, 0.018, 1400, 5200 ],
        [ 'sms', 'africastalking', 0.12, 0.83, 0.09, 6100, 3400 ],
        [ 'voice', 'twilio', 0.08, 0.90, 0.07, 21000, 13000 ],
    );
    my %codes = (twilio => [ '30003', '30005', '30008' ],
                 meta => [ '131026', '131047' ],
                 africastalking => [ 'InvalidPhoneNumber',
                                     'UserInBlacklist' ]);

    my (@hours, %by, %fail);
    my %tot = (sent => 0, delivered => 0, failed => 0, ms => 0, n => 0,
               cost => 0);

    for (my $t = $from; $t < $to; $t += $HOUR) {
        my $hod = ($t / $HOUR) % 24;
        my $day = floor($t / 86400);
        # quiet at night (UTC), busy in the afternoon, a little more on
        # some days
        my $load = 18 + 70 * exp(-(($hod - 15) ** 2) / 30)
                   + 6 * (($day * 7) % 5);

        for my $k (@keys) {
            my ($ch, $pr, $share, $dr, $fr, $ms, $price) = @$k;
            my $sent = int($load * $share + 0.5);
            next unless $sent;
            my $del = int($sent * $dr + ($hod % 3) * 0.3);
            my $fail = int($sent * $fr + (($hod + $day) % 4) * 0.25);
            $del = $sent - $fail if $del + $fail > $sent;
            my $mssum = $del * int($ms * (0.8 + 0.05 * ($hod % 9)));
            my $cost = $sent * $price;          # millionths

            push @hours, { hour => iso($t), channel => $ch, provider => $pr,
                           sent => $sent, delivered => $del,
                           failed => $fail, delivery_ms_sum => $mssum,
                           delivery_count => $del,
                           cost => $cost / 1e6 };

            my $b = $by{"$ch/$pr"} ||= { channel => $ch, provider => $pr,
                                         sent => 0, delivered => 0,
                                         failed => 0, ms => 0, cost => 0,
                                         p95 => $ms * 3 };
            $b->{sent} += $sent;
            $b->{delivered} += $del;
            $b->{failed} += $fail;
            $b->{ms} += $mssum;
            $b->{cost} += $cost;

            my $codes = $codes{$pr};
            for my $i (0 .. $fail - 1) {
                my $c = $codes->[($i * 7 + $hod) % 5 < 3 ? 0
                                 : ($i + $hod) % @$codes];
                $fail{"$c/$ch/$pr"}++;
            }

            $tot{sent} += $sent;
            $tot{delivered} += $del;
            $tot{failed} += $fail;
            $tot{ms} += $mssum;
            $tot{n} += $del;
            $tot{cost} += $cost;
        }
    }

    my @fails = map { my ($c, $ch, $pr) = split m{/};
                      { error_code => $c, channel => $ch, provider => $pr,
                        count => $fail{$_} } }
                sort { $fail{$b} <=> $fail{$a} || $a cmp $b } keys %fail;
    splice @fails, 20 if @fails > 20;

    return {
        from => iso($from), to => iso($to), currency => 'USD',
        totals => {
            sent => $tot{sent}, delivered => $tot{delivered},
            failed => $tot{failed},
            delivery_rate => r4($tot{delivered} / $tot{sent}),
            avg_delivery_ms => int($tot{ms} / $tot{n}),
            p95_delivery_ms => 12400,
            cost => $tot{cost} / 1e6,
        },
        by => [ map { {
            channel => $_->{channel}, provider => $_->{provider},
            sent => $_->{sent}, delivered => $_->{delivered},
            failed => $_->{failed},
            delivery_rate => r4($_->{delivered} / $_->{sent}),
            avg_delivery_ms => int($_->{ms} / $_->{delivered}),
            p95_delivery_ms => $_->{p95},
            cost => $_->{cost} / 1e6,
        } } sort { $b->{sent} <=> $a->{sent} } values %by ],
        countries => [],
        failures => \@fails,
        hours => \@hours,
    };
}

# the texts the page must show for a fixture, formatted as the page does
# (en: thousands with commas; rates to 0.1 %; USD)

sub expect {
    my ($f) = @_;
    my $tt = $f->{totals};
    my (%ch, %pr, %day);

    for my $b (@{ $f->{by} }) {
        my $c = { sms => 'SMS', whatsapp => 'WhatsApp',
                  voice => 'Voice' }->{ $b->{channel} };
        $ch{$c}{$_} += $b->{$_} for qw(sent delivered);
        $pr{ $b->{provider} }{$_} += $b->{$_} for qw(sent delivered);
    }

    for my $h (@{ $f->{hours} }) {
        $day{ substr($h->{hour}, 0, 10) } += $h->{cost};
    }

    my %hourly;
    $hourly{ $_->{hour} } = 1 for @{ $f->{hours} };

    return {
        sent => commas($tt->{sent}),
        delivered => commas($tt->{delivered}),
        failed => commas($tt->{failed}),
        rate => pct($tt->{delivery_rate}),
        avg => secs($tt->{avg_delivery_ms}),
        p95 => secs($tt->{p95_delivery_ms}),
        cost => usd($tt->{cost}),
        channels => { map { $_ => pct($ch{$_}{delivered} / $ch{$_}{sent}) }
                      keys %ch },
        providers => { map { $_ => pct($pr{$_}{delivered} / $pr{$_}{sent}) }
                       keys %pr },
        top_failure => $f->{failures}[0]{error_code},
        top_failure_count => commas($f->{failures}[0]{count}),
        days => [ map { day_label($_, $f) . ': ' . usd($day{$_}) }
                  sort keys %day ],
        hours_with_data => scalar(keys %hourly),
        from => $f->{from}, to => $f->{to},
    };
}

sub slurp {
    open my $fh, '<:raw', $_[0] or return '';
    local $/;
    return <$fh>;
}

sub iso { strftime('%Y-%m-%dT%H:%M:%SZ', gmtime $_[0]) }
sub r4 { sprintf('%.4f', $_[0]) + 0 }
sub b64 { my $s = shift; $s . '=' x (-length($s) % 4) }

sub commas {
    my $n = reverse shift;
    $n =~ s/(\d{3})(?=\d)/$1,/g;
    return scalar reverse $n;
}

sub pct { sprintf('%.1f %%', floor($_[0] * 1000 + 0.5) / 10) }

sub secs {
    my $ms = shift;
    return $ms < 10000 ? sprintf('%.1f s', $ms / 1000)
                       : sprintf('%.0f s', $ms / 1000);
}

sub usd {
    my $v = shift;
    my $c = floor($v * 100 + 0.5);
    return '$' . commas(int($c / 100)) . sprintf('.%02d', $c % 100);
}

# "Nov 29", ", from 20:00" for the first day of a range that starts in
# it, ", to 20:00" for the last
sub day_label {
    my ($date, $f) = @_;
    my ($y, $m, $d) = split /-/, $date;
    my $l = (qw(Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec))[$m - 1]
            . ' ' . ($d + 0);

    for ([ from => 'from' ], [ to => 'to' ]) {
        my ($k, $w) = @$_;
        $l .= ", $w " . substr($f->{$k}, 11, 5)
            if substr($f->{$k}, 0, 10) eq $date
               && substr($f->{$k}, 11, 5) ne '00:00';
    }

    return $l;
}

###############################################################################
