#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# The Debian package (debian/, scripts/package): builds the .deb, installs
# it on this machine, checks that the files are where Debian puts its own
# nginx modules (the .so in /usr/lib/nginx/modules, mod-http-otp.conf in
# /usr/share/nginx/modules-available, enabled by a symlink in
# /etc/nginx/modules-enabled) and that it depends on the ABI of the
# installed nginx, runs the SYSTEM nginx (/usr/sbin/nginx) on a
# configuration of its own that loads the module the Debian way (include
# /etc/nginx/modules-enabled/*.conf), sends and verifies a code, then
# purges the package and checks that everything is gone and that the
# system's nginx configuration still passes nginx -t.
#
# It installs and removes a package: it needs root, and FAILS without it
# unless OTP_TEST_PACKAGE=0 says to skip it.  It never touches a
# libnginx-mod-http-otp that was installed before it started (fails).

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use OtpTest;

###############################################################################

my $pkg = 'libnginx-mod-http-otp';
my $so = '/usr/lib/nginx/modules/ngx_http_otp_module.so';
my $available = '/usr/share/nginx/modules-available/mod-http-otp.conf';
my $enabled = '/etc/nginx/modules-enabled/50-mod-http-otp.conf';
my $nginx = '/usr/sbin/nginx';
my $root = "$FindBin::Bin/..";

if (($ENV{OTP_TEST_PACKAGE} // '') eq '0') {
    plan skip_all => 'OTP_TEST_PACKAGE=0: the Debian package was NOT built'
                     . ' nor tested';
}

if ($> != 0) {
    refuse("t/70-package.t installs and purges $pkg and needs root: run it"
           . " as root, or set OTP_TEST_PACKAGE=0 to skip it");
}

# an installed package (or what is left of one), or the files of a module
# put there by hand, are someone's: this test would replace and then purge
# them
my $status = `dpkg-query -W -f='\${Status}' $pkg 2>/dev/null` // '';

if ($status ne '' && $status !~ /\bnot-installed$/) {
    refuse("$pkg is on this machine already (dpkg: \"$status\"): this test"
           . " installs and purges it, and leaves an installed one alone;"
           . " apt-get purge $pkg first, or OTP_TEST_PACKAGE=0");
}

for my $f ($so, $available, $enabled, "$enabled.removed") {
    refuse("$f exists, not from the package: this test would overwrite and"
           . " then remove it") if -e $f || -l $f;
}

sub refuse {
    my ($why) = @_;

    plan tests => 1;
    fail($why);
    exit;
}

###############################################################################

my $t = OtpTest->new(nginx => $nginx, module => undef);

$t->plan(17);

# the build: scripts/package prints the .deb's path last
my $out = `"$root/scripts/package" 2>&1`;
my $built = $? == 0;
my ($deb) = $out =~ m{^(/\S+/\Q$pkg\E_[^_/\s]+_[^_/\s]+\.deb)\s*\z}m;

ok($built && defined $deb && -f $deb, 'scripts/package built the .deb')
    or diag($out);

die "no package to install\n" unless $built && defined $deb && -f $deb;

my $version = `cat "$root/VERSION"`;
$version =~ s/\s+//g;
my $arch = `dpkg --print-architecture`;
chomp $arch;

like($deb, qr{/build/package/\Q${pkg}_${version}_$arch\E\.deb$},
     "named ${pkg}_VERSION_ARCH.deb, the version from VERSION");

# dh_nginx: the dependency on the ABI of the nginx it was built against,
# which the installed nginx provides
my $depends = `dpkg-deb -f "$deb" Depends`;
my ($abi) = `dpkg-query -W -f='\${Provides}' nginx` =~ /(nginx-abi-[\w.+~-]+)/;

ok(defined $abi && $depends =~ /(?:^|,\s*)\Q$abi\E(?:,|\s*$)/,
   'depends on the nginx ABI the installed nginx provides ('
   . ($abi // 'none') . ')')
    or diag("Depends: $depends");

like($depends, qr/\blibhiredis[\w.]+ /, 'shlibs:Depends: hiredis');

###############################################################################

# installed from here on: the END block purges it whatever happens
my $installed = 0;

END {
    system('apt-get', '-qq', '-y', '-o', 'DPkg::Lock::Timeout=120',
           'purge', $pkg) if $installed;
}

$ENV{DEBIAN_FRONTEND} = 'noninteractive';

$out = `apt-get -y -o DPkg::Lock::Timeout=120 --no-install-recommends install "$deb" 2>&1`;
$installed = 1;

ok($? == 0, 'apt-get install the .deb') or diag($out);

ok(-f $so, "the module in $so");

is(slurp($available), "load_module modules/ngx_http_otp_module.so;\n",
   "mod-http-otp.conf in /usr/share/nginx/modules-available loads it");

is(readlink($enabled), $available,
   'enabled: the modules-enabled symlink to it');

# the system's configuration includes modules-enabled: nginx loads it
$out = `$nginx -t -q 2>&1`;
ok($? == 0, 'nginx -t of the system configuration, the module enabled')
    or diag($out);

###############################################################################

# The system nginx on a configuration of the test's own, which loads the
# module as Debian's nginx.conf does.  The snippet's "modules/..." is
# relative to the prefix: Debian's prefix (/usr/share/nginx) has a
# modules symlink to /usr/lib/nginx/modules, and so does the test's.

symlink('/usr/lib/nginx/modules', $t->dir . '/modules')
    or die "symlink: $!";

$t->write_config(<<'EOF')->run;

include /etc/nginx/modules-enabled/*.conf;

%%GLOBALS%%
worker_processes 1;

events {
}

http {
    %%HTTP_GLOBALS%%

    otp_store shm:otp_package:1m;
    otp_secret_file %%SECRET%%;
    otp_provider dev log;

    server {
        listen 127.0.0.1:%%PORT%%;

        otp_client_limit off;

        location = /otp/send {
            otp_send;
        }

        location = /otp/verify {
            otp_verify;
        }
    }
}

EOF

# the module in the worker is the package's, not a build tree's
my ($worker) = $t->worker_pids;
my $maps = slurp("/proc/$worker/maps");

ok(index($maps, $so) >= 0, "the worker has mapped $so");

my $phone = '+15550100070';
$t->uses_phone($phone);

my ($r, $code) = $t->send_code('/otp/send', { phone => $phone });

response_is($r, 202, {
    status => 'pending',
    message_id => qr/^log_/,
    channel => 'sms',
    provider => 'dev',
    expires_in => number(300),
    resend_after => number(30),
}, 'send: 202');

ok(defined $code, 'the log provider printed the code');

$r = $t->post_form('/otp/verify', { phone => $phone, code => $code // '' });

response_is($r, 200, {
    verified => true,
    token => qr/^[\w-]+\.[\w-]+\.[\w-]+$/,
}, 'verify: 200 verified');

$t->stop;

###############################################################################

$out = `apt-get -y -o DPkg::Lock::Timeout=120 purge $pkg 2>&1`;

ok($? == 0, "apt-get purge $pkg") or diag($out);

$installed = 0 if $? == 0;

$status = `dpkg-query -W -f='\${Status}' $pkg 2>/dev/null` // '';

ok(!-e $so && !-e $available, 'the module and its snippet are gone');

ok(!-l $enabled && !-l "$enabled.removed"
   && ($status eq '' || $status =~ /\bnot-installed$/),
   'the modules-enabled symlink is gone, dpkg has no trace of the package')
    or diag("dpkg: $status");

$out = `$nginx -t -q 2>&1`;
ok($? == 0, 'nginx -t of the system configuration after the purge')
    or diag($out);

$t->done;

###############################################################################

sub slurp {
    my ($path) = @_;

    open my $fh, '<', $path or return '';
    local $/;
    my $text = <$fh>;
    close $fh;

    return $text;
}

###############################################################################
