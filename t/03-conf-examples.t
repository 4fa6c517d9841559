#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# Every file in conf-examples/ is a configuration nginx accepts with the
# module: `nginx -t` on a copy, with the files it names created.  Provider
# hosts are resolved when a configuration is read and this machine has no
# DNS, so each provider gets base_url= a loopback address; everything else
# is the example as written.

use warnings;
use strict;

use Test::More;
use File::Temp qw(tempdir);
use File::Basename qw(basename);
use FindBin;

my $root = "$FindBin::Bin/..";
my $module = $ENV{OTP_MODULE} || "$root/build/ngx_http_otp_module.so";
my $nginx = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';

my @examples = sort glob("$root/conf-examples/*.conf");

plan tests => 2 * @examples;

for my $example (@examples) {
    my $name = basename($example);
    my $dir = tempdir(CLEANUP => 1);

    mkdir "$dir/$_" for qw(modules logs temp);
    symlink $module, "$dir/modules/ngx_http_otp_module.so" or die $!;

    open my $in, '<', $example or die "$example: $!";
    my $conf = do { local $/; <$in> };
    close $in;

    # the key and credential files the example names
    for my $file ($conf =~ /(?:_file|otp_secret_file|otp_token_key_file)[= ]\s*([\w.]+)/g) {
        open my $f, '>', "$dir/$file" or die;
        print $f "0123456789abcdef0123456789abcdef-$file\n";
        close $f;
        chmod 0600, "$dir/$file";
    }

    # a Standard Webhooks secret is read as "whsec_" and base64
    for my $file ($conf =~ /standard_webhooks\s+secret_file=([\w.]+)/g) {
        open my $f, '>', "$dir/$file" or die;
        print $f "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n";
        close $f;
    }

    $conf =~ s/(otp_provider\s+\S+\s+(?:twilio|meta_whatsapp|africastalking)\b)/$1 base_url=http:\/\/127.0.0.1:9/g;
    $conf =~ s/listen\s+80;/listen 127.0.0.1:1;/g;
    $conf = "pid $dir/nginx.pid;\n$conf" unless $conf =~ /^pid /m;
    $conf = "error_log $dir/logs/error.log;\n$conf"
        unless $conf =~ /^error_log /m;
    $conf =~ s/http \{/http {\n    access_log off;\n    client_body_temp_path temp;/
        unless $conf =~ /client_body_temp_path/;

    open my $out, '>', "$dir/nginx.conf" or die;
    print $out $conf;
    close $out;

    my $log = `$nginx -t -p $dir/ -c $dir/nginx.conf 2>&1`;
    is($? >> 8, 0, "$name: nginx -t") or diag($log);
    unlike($log, qr/\[(emerg|alert|crit)\]/, "$name: no errors") or diag($log);
}
