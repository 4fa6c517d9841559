#!/usr/bin/perl

# The same `config` builds the module statically into nginx from a full
# source tree (--add-module), and that nginx accepts an OTP configuration
# with no load_module.  The tree is the upstream source of the installed
# nginx, from Debian's source package (scripts/nginx-source): nginx-dev
# ships headers only.

use strict;
use warnings;

use Test::More;
use File::Temp qw(tempdir);
use File::Spec;
use Cwd qw(abs_path);

my $root = abs_path(File::Spec->catdir(__FILE__, '..', '..'));
plan tests => 5;

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

my $dir = tempdir(CLEANUP => 1);
mkdir "$dir/logs";

open my $k, '>', "$dir/otp.key" or die;
print $k "0123456789abcdef0123456789abcdef\n";
close $k;
chmod 0600, "$dir/otp.key";

open my $c, '>', "$dir/nginx.conf" or die;
print $c <<"CONF";
error_log $dir/error.log;
pid $dir/nginx.pid;
events {}
http {
    access_log off;
    otp_secret_file $dir/otp.key;
    otp_provider dev log;
    server {
        listen 127.0.0.1:1;
        location = /otp/send { otp_send; }
        location = /otp/verify { otp_verify; }
    }
}
CONF
close $c;

my $out = `$build/objs/nginx -p $dir/ -c $dir/nginx.conf -t 2>&1`;
is($? >> 8, 0, 'the static nginx accepts the otp directives')
    or diag($out);

like(`$build/objs/nginx -V 2>&1`, qr/--add-module=\Q$root\E/,
    'nginx -V names the module');
