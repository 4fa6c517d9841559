#!/usr/bin/perl

# The same `config` builds the module statically into nginx from a full
# source tree (--add-module); that nginx serves OTP locations with no
# load_module, and its JSON error filter answers the errors nginx answers by
# itself.  Statically linked, a filter must be a filter module placed after
# the core filters (HTTP_AUX_FILTER), or their initialisation drops it from
# the chain; a dynamic module, loaded last, never shows that.  The tree is
# the upstream source of the installed nginx, from Debian's source package
# (scripts/nginx-source): nginx-dev ships headers only.  The webhook code
# runs there too: its access-phase handler (otp_signature, and what
# otp_webhook implies) is installed by the postconfiguration in a module
# list of another order, and a signed Twilio status callback changes what
# GET /otp/status/{id} shows, while an unsigned call to a guarded proxy
# location is refused with the API's JSON.

use strict;
use warnings;

use Test::More;
use File::Spec;
use Cwd qw(abs_path);

use FindBin;
use lib "$FindBin::Bin/lib";

use OtpTest;
use OtpStatus qw(twilio_report);
use MockProvider;

my $root = abs_path(File::Spec->catdir(__FILE__, '..', '..'));
plan tests => 13 + OtpTest::IMPLICIT_TESTS;

my $src = $ENV{NGINX_FULL_SRC}
    || `$root/scripts/nginx-source 2>&1 | tail -1`;
chomp $src;

ok(-x "$src/configure", 'a full nginx source tree') or diag($src);

my $build = "$root/build/static";
system('rm', '-rf', $build) == 0 or die;
system('mkdir', '-p', "$root/build") == 0 or die;
system('cp', '-r', $src, $build) == 0 or die;

my $log = "$build/build.log";
my $jobs = `nproc` + 0 || 2;

is(system("cd $build && ./configure --with-http_realip_module "
    . "--add-module=$root >$log 2>&1"), 0, 'configure --add-module');

is(system("cd $build && make -f objs/Makefile -j$jobs >>$log 2>&1"), 0,
    'make: nginx with the module built in (-Werror)')
    or diag(`tail -30 $log`);

my $bin = "$build/objs/nginx";

like(`$bin -V 2>&1`, qr/--add-module=\Q$root\E/, 'nginx -V names the module');

# the built-in module: no load_module
my $t = OtpTest->new(nginx => $bin, module => undef);

my $mock = MockProvider->new(dir => $t->dir);
$mock->on(qr{^/app/} => { status => 200, body => { app => 'ok' } });

my $AC = 'ACa1b2c3d4e5f60718293a4b5c6d7e8f90';
my $TOKEN = 'tok1c0ffee5ecret0ddba11deadbeefab';

my $conf = <<'EOF';

%%GLOBALS%%
events {}
http {
    %%HTTP_GLOBALS%%
    otp_secret_file %%SECRET%%;
    otp_provider dev log;
    otp_provider tw twilio account_sid=@AC@ auth_token=@TOKEN@
                 from=+15005550006 base_url=@MOCK@;
    otp_route sms +44 tw;
    otp_route sms default dev;
    server {
        listen 127.0.0.1:%%PORT%%;
        otp_public_url http://127.0.0.1:%%PORT%%;
        otp_client_limit off;
        location = /otp/send { otp_send; }
        location /otp/status/ { otp_status; }
        location = /hooks/tw { otp_webhook tw; }
        location /app/ {
            otp_signature tw;
            proxy_pass @MOCK@;
        }
        location = /otp/small {
            client_max_body_size 10;
            otp_send;
        }
        location = /otp/verify { otp_verify; }
    }
}

EOF

my %subst = (AC => $AC, TOKEN => $TOKEN, MOCK => $mock->url);
$conf =~ s/\@(\w+)\@/$subst{$1}/g;

$t->write_config($conf);

my $dir = $t->dir;
my $out = `$bin -t -p $dir/ -c $dir/nginx.conf 2>&1`;
is($? >> 8, 0, 'the static nginx accepts the otp directives')
    or diag($out);

$t->run;

my ($r, $code) = $t->send_code('/otp/send', { phone => '+15550107001' });
is($r->{status}, 202, 'a send through the built-in module');

$r = $t->post_form('/otp/verify', { phone => '+15550107001',
                                    code => $code // '000000' });
is($r->{status}, 200, 'and its code verifies');

# over client_max_body_size: nginx finalizes the request with 413 before
# any OTP handler runs, and only the filter makes its HTML page the API's
# JSON answer

$r = $t->post_form('/otp/small', { phone => '+15550107002',
                                   pad => 'x' x 100 });
response_is($r, 400, {
    error => 'invalid_request',
    message => 'The request body is too large.',
}, 'an oversize body: the JSON error, not nginx\'s HTML 413');

# issue 7's code in the static binary: a signed status callback, then the
# status it set

$r = $t->post_form('/otp/send', { phone => '+447700900123' });
my $sid = $r->{json} ? $r->{json}{message_id} // '' : '';
ok($r->{status} == 202 && $sid =~ /^SM/, 'a send through twilio')
    or diag($r->{raw});

$r = twilio_report($t, '/hooks/tw', $TOKEN, MessageSid => $sid,
                   MessageStatus => 'delivered', AccountSid => $AC);
is($r->{status}, 200, 'a signed status callback to otp_webhook')
    or diag($r->{raw});

$r = $t->get("/otp/status/$sid");
ok($r->{status} == 200 && $r->{json}
   && $r->{json}{status} eq 'delivered',
   'GET /otp/status/{id} shows the status it set') or diag($r->{raw});

# otp_signature before proxy_pass: unsigned, refused in the access phase

$r = $t->post('/app/status', 'application/x-www-form-urlencoded',
              "MessageSid=$sid&MessageStatus=read");
response_is($r, 403, {
    error => 'invalid_signature',
    message => 'The request\'s signature is missing or invalid.',
}, 'an unsigned call to an otp_signature location: 403 JSON');

is(scalar($mock->requests(qr{^/app/})), 0,
   'and nothing reached the proxied app');

$t->done;
