#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# otp_client_limit keys an IPv6 client by its /64 (one host is routinely
# given a whole /64 and picks addresses from it at will), and by another
# prefix with ipv6_prefix=N.  The client's address comes from a trusted
# proxy through realip here, so that addresses of any network can be
# tested on loopback; IPv4 clients are keyed by their address.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use OtpTest;

###############################################################################

my $t = OtpTest->new;

$t->plan(11);

$t->write_config(<<'EOF')->run;

%%GLOBALS%%

events {
}

http {
    %%HTTP_GLOBALS%%

    %%STORE%%
    otp_secret_file %%SECRET%%;
    otp_provider dev log;

    server {
        listen 127.0.0.1:%%PORT%%;

        set_real_ip_from 127.0.0.1;
        real_ip_header X-Forwarded-For;

        otp_resend_after 0s;

        location = /otp/send {
            otp_client_limit 2/1h;
            otp_send;
        }

        location = /otp/send/128 {
            otp_client_limit 2/1h ipv6_prefix=128;
            otp_send;
        }

        location = /otp/send/48 {
            otp_client_limit 2/1h ipv6_prefix=48;
            otp_send;
        }
    }
}

EOF

my $n = 0;

sub send_from {
    my ($path, $addr) = @_;

    my $phone = sprintf('+1555014%04d', ++$n);
    my $r = $t->post_form($path, { phone => $phone },
                          headers => { 'X-Forwarded-For' => $addr });
    return $r->{status};
}

# the default /64: other addresses of one /64 are one client

is(send_from('/otp/send', '2001:db8:1:2::1'), 202, '/64: first address');
is(send_from('/otp/send', '2001:db8:1:2:ffff:ffff:ffff:fffe'), 202,
   '/64: another address of the same /64 counts with it');
is(send_from('/otp/send', '2001:db8:1:2:aaaa::7'), 429,
   '/64: a third address of that /64 is over the limit of 2');
is(send_from('/otp/send', '2001:db8:1:3::1'), 202,
   '/64: the next /64 is another client');

# IPv4 and IPv4-mapped clients: by address

is(send_from('/otp/send', '192.0.2.1'), 202, 'IPv4: one address');
is(send_from('/otp/send', '192.0.2.1'), 202, 'IPv4: twice');
is(send_from('/otp/send', '192.0.2.2'), 202, 'IPv4: its neighbour is another client');

# ipv6_prefix=128: every address its own client

is(send_from('/otp/send/128', '2001:db8:9:9::1'), 202, '/128: one address');
is(send_from('/otp/send/128', '2001:db8:9:9::2'), 202, '/128: its neighbour');
is(send_from('/otp/send/128', '2001:db8:9:9::3'), 202, '/128: and the next');

# ipv6_prefix=48: wider still

send_from('/otp/send/48', '2001:db8:7:1::1') for 1 .. 2;
is(send_from('/otp/send/48', '2001:db8:7:ffff::1'), 429,
   '/48: another /64 of the same /48 is the same client');

$t->done;
