#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# The demo page in a real browser: nginx with conf-examples/demo.conf (the
# page's files, the send, verify, status and webhook locations as written;
# the provider pointed at the mock Twilio, the public URL and the listen
# address at loopback, resend_after shortened), and t/browser/demo.mjs
# driving Debian's chromium headless through playwright-core.  The mock
# posts Twilio's signed status callbacks for each message it accepts, to
# the demo's otp_webhook location, as Twilio does.  Scenarios: WhatsApp
# delivered and the right code ends on the gated page (otp_gate, ssi),
# which greets the number; the gated page without a token redirects to
# the sign-in page with ?next=; signed in from there, back on the gated
# page, then "Sign out" clears the cookie and the gated page redirects
# again; a wrong code shows the attempts left; WhatsApp failed, then "Send
# by SMS instead", ends on the greeting; a send too early (429) shows a
# countdown that runs down.  A screenshot of each final state is kept in
# build/test-output/browser/ (TEST_OUTPUT_DIR to choose).
#
# scripts/install-deps installs chromium, node and t/browser/node_modules;
# without them this file fails, saying what is missing, unless
# OTP_TEST_BROWSER=0 asks to skip it.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Cwd qw(abs_path);
use File::Copy qw(copy);
use File::Path qw(make_path);
use Test::More;
use OtpTest;
use MockProvider;

###############################################################################

my $root = abs_path("$FindBin::Bin/..");
my $chromium = $ENV{TEST_CHROMIUM} || '/usr/bin/chromium';
my $pw = "$root/t/browser/node_modules/playwright-core";
my ($node) = grep { -x } map { "$_/node" } split /:/, $ENV{PATH} || '';

if (defined $ENV{OTP_TEST_BROWSER} && $ENV{OTP_TEST_BROWSER} eq '0') {
    plan(skip_all => 'browser test: OTP_TEST_BROWSER=0');
}

my @missing = ((-x $chromium ? () : "chromium ($chromium)"),
               (-d $pw ? () : "playwright-core ($pw)"),
               ($node ? () : 'node'));

# scripts/test installs all three (scripts/install-deps), so a missing one
# is a broken setup, not a reason to pass: fail, saying what to do
if (@missing) {
    my $what = join ', ', @missing;
    plan(tests => 1);
    fail("the browser test needs $what");
    diag("run scripts/install-deps (as root) to install them, or set"
         . " OTP_TEST_BROWSER=0 to skip this test");
    exit;
}

my $t = OtpTest->new;
my $mock = MockProvider->new(dir => $t->dir);

my $TOKEN = 'demo0auth0token0c0ffee0123456789';

my $out = $ENV{TEST_OUTPUT_DIR} || "$root/build/test-output/browser";
make_path($out);
unlink glob("$out/*.png");

# the page's files in the prefix: workers (an unprivileged user when the
# tests run as root) read them there whatever the checkout's permissions
my $demo = $t->dir . '/demo';
make_path("$demo/app");
for my $f (qw(index.html demo.css demo.js app/index.html)) {
    copy("$root/conf-examples/demo/$f", "$demo/$f") or die "$f: $!";
}

$t->write_file('twilio.token', "$TOKEN\n", 0600);

# demo.conf as written, but for what a test machine needs
my $conf = do {
    open my $fh, '<', "$root/conf-examples/demo.conf" or die $!;
    local $/;
    <$fh>;
};

my $mock_url = $mock->url;
# each edit: a pattern that must match once, and what replaces it ($1 is
# the indentation of the line)
my @edits = (
    [ qr/^load_module [^\n]*;/m, "%%GLOBALS%%\nworker_processes 1;" ],
    [ qr/^http \{/m, "http {\n    %%HTTP_GLOBALS%%" ],
    [ qr/^(\s*)otp_secret_file\s+otp\.key;/m, 'otp_secret_file %%SECRET%%;' ],
    [ qr/^(\s*)otp_token_key_file\s+token\.key/m,
      'otp_token_key_file %%TOKEN_KEY%%' ],
    [ qr/^(\s*)auth_token_file=twilio\.token/m,
      'auth_token_file=' . $t->dir . '/twilio.token' ],
    [ qr/^(\s*)otp_provider twilio twilio/m,
      "otp_provider twilio twilio base_url=$mock_url" ],
    [ qr/^(\s*)otp_public_url [^;\n]+;/m,
      'otp_public_url http://127.0.0.1:%%PORT%%;' ],
    [ qr/^(\s*)listen 80;/m, 'listen 127.0.0.1:%%PORT%%;' ],
    [ qr{^(\s*)alias demo/;}m, "alias $demo/;" ],
    [ qr{^(\s*)alias demo/app/;}m, "alias $demo/app/;" ],
    # the fallback waits resend_after on its button: 3 s, not 10, here
    [ qr/^(\s*)otp_resend_after\s+10s;/m, 'otp_resend_after 3s;' ],
);

for my $e (@edits) {
    my ($re, $to) = @$e;
    $conf =~ s/$re/($1 \/\/ '') . $to/e
        or die "demo.conf no longer has $re\n";
}

$t->plan(11);

# every message delivered, but the fallback number's WhatsApp message
$mock->on(qr{/Messages\.json$} => {
    callback => { statuses => [ 'sent', 'delivered' ], token => $TOKEN,
                  delay => 0.3 } });
$mock->on(qr{/Messages\.json$} => {
    body_like => qr/To=whatsapp%3A%2B15550100030/,
    callback => { statuses => [ 'failed' ], error_code => 63016,
                  token => $TOKEN, delay => 0.3 } });

$t->write_config($conf)->run;

my $r = $t->get('/demo/');
ok($r->{status} == 200 && $r->{body} =~ /<h1>Sign in with your phone/
   && ($r->{headers}{'content-security-policy'} // '') =~ /default-src 'self'/,
   'the page is served by nginx, with its CSP') or diag($r->{raw});

# the gate, without a browser: no token (or a forged one), a redirect to
# the sign-in page with the URI it refused; sign-out clears the cookie
# (nginx makes a Location absolute: absolute_redirect)
sub location_path {
    my ($r) = @_;
    (my $l = $r->{headers}{location} // '') =~ s{^http://[^/]+}{};
    return $l;
}

$r = $t->get('/demo/app/?a=b');
is(($r->{status} // 0) . ' ' . location_path($r),
   '302 /demo/?next=%2Fdemo%2Fapp%2F%3Fa%3Db',
   'the gated page without a token: to the sign-in page, next= kept');

$r = $t->get('/demo/app/',
             headers => { Cookie => 'otp_token=eyJhbGciOiJIUzI1NiJ9.e30.AAAA' });
is($r->{status}, 302, 'the gated page with a forged token: the same');

$r = $t->get('/demo/logout?next=%2Fdemo%2F');
like(($r->{status} // 0) . ' ' . location_path($r) . ' '
     . ($r->{headers}{'set-cookie'} // ''),
     qr{^302 /demo/ otp_token=;.*Max-Age=0}i,
     'sign-out: the cookie cleared, back to the sign-in page');

$t->uses_phone(map { "+155501000$_" } qw(10 20 30 40 50));

local $ENV{DEMO_URL} = 'http://127.0.0.1:' . $t->port;
local $ENV{MOCK_LOG} = $mock->log_file;
local $ENV{OUT_DIR} = $out;
local $ENV{CHROMIUM} = $chromium;

my %result;
my @lines;

my $pid = open(my $fh, '-|') // die "fork: $!";

if ($pid == 0) {
    open STDERR, '>&', \*STDOUT;
    exec($node, "$root/t/browser/demo.mjs") or POSIX::_exit(127);
}

# a browser that hangs must not hang the suite
local $SIG{ALRM} = sub { kill 'KILL', $pid; die "the browser run took over 90 s\n" };
alarm 90;

while (my $line = <$fh>) {
    chomp $line;
    push @lines, $line;
    $result{$2} = $1 eq 'ok' ? '' : $3
        if $line =~ /^(ok|not ok) (\w+)(?::\s*(.*))?$/;
}

close $fh;
alarm 0;

my @other = grep { !/^(ok|not ok) \w+/ } @lines;
diag("demo.mjs: $_") for @other;

for my $name (qw(happy gate_redirect sign_out wrong_code sms_fallback
                  rate_limited))
{
    my $shot = "$out/$name.png";
    ok(defined $result{$name} && $result{$name} eq '' && -s $shot,
       "browser: $name, screenshot $shot")
        or diag($result{$name} // 'no result');
}

# the fallback went out by SMS, the user's choice, after the WhatsApp one
my @to = map { { MockProvider::form_hash($_->{body}) }->{To} }
         grep { ($_->{body} // '') =~ /15550100030/ }
         $mock->requests(qr{/Messages\.json$});
is_deeply(\@to, [ 'whatsapp:+15550100030', '+15550100030' ],
          'fallback: WhatsApp, then SMS');

# the codes the browser typed (and the wrong one), for the log checks
for my $req ($mock->requests(qr{/Messages\.json$})) {
    my %f = MockProvider::form_hash($req->{body});
    my $text = ($f{Body} // '') . ($f{ContentVariables} // '');
    for ($text =~ /(?<![0-9+])([0-9]{6})(?![0-9])/g) {
        $t->uses_code($_, substr($_, 0, 5) . (substr($_, 5) + 1) % 10);
    }
}

diag("screenshots in $out");

$mock->stop;
$t->done;

###############################################################################
