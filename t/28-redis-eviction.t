#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# Redis may evict the store's keys: every one has a TTL, so a volatile-*
# or allkeys-* maxmemory-policy can drop a lock or a failure counter under
# memory pressure.  A worker reads the policy when it connects (INFO
# memory, since managed Redis often renames CONFIG) and logs one [warn]
# per connection unless it is noeviction.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use OtpTest;

###############################################################################

my $t = OtpTest->new->need_redis;

$t->plan(5);

$t->write_config(<<'EOF', store => 'redis');

%%GLOBALS%%
worker_processes 1;

events {
}

http {
    %%HTTP_GLOBALS%%

    %%STORE%%
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

# the policy warnings logged since nginx last started
sub warnings {
    my $log = $t->read_file('error.log');
    $log = substr($log, $t->{log_offset}) if $t->{log_offset};
    return grep { /\[warn\].*maxmemory-policy/ } split /\n/, $log;
}

###############################################################################

$t->start_redis;
$t->redis_command('CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lru');
$t->run;

my ($r, $code) = $t->send_code('/otp/send', { phone => '+15550280001' });
$r = $t->post_form('/otp/verify', { phone => '+15550280001', code => $code });
is($r->{status}, 200, 'allkeys-lru: the store works, eviction or not');

my @w = warnings();
is(scalar @w, 1, 'allkeys-lru: one warning for the connection, not one per '
   . 'operation') or diag(join "\n", @w);

my $want = '[warn] .*otp redis store: "redis://127.0.0.1:PORT/0" has '
           . 'maxmemory-policy "allkeys-lru": .*evict.*"noeviction"';
$want = quotemeta $want;
$want =~ s/\\\.\\\*/.*/g;
$want =~ s/PORT/\\d+/;

like($w[0] // '', qr/$want/,
     'allkeys-lru: the warning names the policy and the fix');

$t->stop;

$t->redis_command('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
$t->run;

($r, $code) = $t->send_code('/otp/send', { phone => '+15550280002' });
$r = $t->post_form('/otp/verify', { phone => '+15550280002', code => $code });
is($r->{status}, 200, 'noeviction: the store works');
is(scalar(warnings()), 0, 'noeviction: no warning');

$t->done;

###############################################################################
