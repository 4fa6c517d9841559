#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# Send limits (API.md, "Send a code", 429 rate_limited): a resend too early,
# the per-number window, the per-client window; each 429 carries
# retry_after and a Retry-After header with the same seconds, waiting that
# long is enough, and a refused send changes nothing; a window opened by a
# looser location lasts a stricter one's once it counts in it.  Both
# stores.  The
# lock after failed guesses is in 12-verify.t.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Time::HiRes qw(sleep);
use OtpTest;

###############################################################################

my $t = OtpTest->new;

$t->plan(29 * $t->stores);

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

    # each request says its client address in X-Forwarded-For
    set_real_ip_from 127.0.0.1;
    real_ip_header X-Forwarded-For;

    server {
        listen 127.0.0.1:%%PORT%%;

        otp_client_limit off;

        location = /send/cooldown {
            otp_resend_after 30s;
            otp_send;
        }

        location = /send/cooldown1s {
            otp_resend_after 1s;
            otp_send;
        }

        location = /send/number {
            otp_resend_after 0s;
            otp_send_limit 2/2s;
            otp_send;
        }

        location = /send/number-after-cooldown {
            otp_resend_after 1s;
            otp_send_limit 2/1m;
            otp_send;
        }

        location = /send/verified {
            otp_resend_after 0s;
            otp_send_limit 2/1m;
            otp_send;
        }

        location = /send/client {
            otp_resend_after 0s;
            otp_client_limit 2/1h;
            otp_send;
        }

        # one number's window seen by two locations: 3/15m, then 2/1h
        location = /send/loose {
            otp_resend_after 0s;
            otp_send_limit 3/15m;
            otp_client_limit 3/15m;
            otp_send;
        }

        location = /send/strict {
            otp_resend_after 0s;
            otp_send_limit 2/1h;
            otp_client_limit 2/1h;
            otp_send;
        }

        location = /otp/verify {
            otp_verify;
        }
    }
}

EOF

# a 429 of the send endpoint: retry_after seconds, the same in Retry-After
sub limited {
    my ($r, $lo, $hi, $name) = @_;

    my $retry = $r->{json} ? $r->{json}{retry_after} // '' : '';

    response_is($r, 429, {
        error => 'rate_limited',
        message => any_string,
        retry_after => int_in($lo, $hi),
    }, $name, { 'Retry-After' => "$retry" });

    return $retry =~ /^\d+$/ ? $retry : $hi;
}

sub pending {
    my ($r, $name) = @_;
    response_is($r, 202, {
        status => 'pending',
        message_id => qr/^log_/,
        channel => 'sms',
        provider => 'dev',
        expires_in => number(300),
        resend_after => int_in(0, 30),
    }, $name);
}

###############################################################################

for my $store ($t->stores) {

$t->write_config($conf, store => $store)->run;

my ($r, $retry, $code);

# resend too early: 429 until otp_resend_after has passed

my $first = $t->post_form('/send/cooldown', { phone => '+15550110001' });
pending($first, "$store: cooldown: first send 202");

$r = $t->post_form('/send/cooldown', { phone => '+15550110001' });
limited($r, 29, 30, "$store: cooldown: resend at once 429, retry_after 30");

# the refused resend did not replace the code

$code = $t->code_for($first->{json}{message_id});
$r = $t->post_form('/otp/verify', { phone => '+15550110001', code => $code });
is($r->{status}, 200, "$store: cooldown: the first code still works");

$r = $t->post_form('/send/cooldown1s', { phone => '+15550110002' });
pending($r, "$store: cooldown 1s: first send 202");

$r = $t->post_form('/send/cooldown1s', { phone => '+15550110002' });
$retry = limited($r, 1, 1, "$store: cooldown 1s: resend at once 429");

sleep($retry + 0.1);

$r = $t->post_form('/send/cooldown1s', { phone => '+15550110002' });
pending($r, "$store: cooldown 1s: resend after retry_after 202");

# per number: otp_send_limit 2/2s, the window starts with the first send

$r = $t->post_form('/send/number', { phone => '+15550110003' });
pending($r, "$store: number limit: send 1 of 2");

$r = $t->post_form('/send/number', { phone => '+15550110003' });
pending($r, "$store: number limit: send 2 of 2");

$r = $t->post_form('/send/number', { phone => '+15550110003' });
$retry = limited($r, 1, 2, "$store: number limit: send 3 429");

$r = $t->post_form('/send/number', { phone => '+15550110004' });
pending($r, "$store: number limit: another number is not limited");

sleep($retry + 0.1);

$r = $t->post_form('/send/number', { phone => '+15550110003' });
pending($r, "$store: number limit: a new window after retry_after");

# a send refused for its cooldown does not count in the window:
# 202, 429 (cooldown), 202 (the second of 2), 429 (the limit, not the
# cooldown: retry_after is the window's end, about a minute away)

$r = $t->post_form('/send/number-after-cooldown', { phone => '+15550110005' });
pending($r, "$store: refused sends: send 1 of 2");

$r = $t->post_form('/send/number-after-cooldown', { phone => '+15550110005' });
$retry = limited($r, 1, 1, "$store: refused sends: cooldown 429");

sleep($retry + 0.1);

$r = $t->post_form('/send/number-after-cooldown', { phone => '+15550110005' });
pending($r, "$store: refused sends: send 2 of 2 is not limited");

sleep($retry + 0.1);

$r = $t->post_form('/send/number-after-cooldown', { phone => '+15550110005' });
limited($r, 50, 60, "$store: refused sends: send 3 hits the window");

# a verified code does not give its sends back: the window counts sends

for my $n (1, 2) {
    my ($r, $code) = $t->send_code('/send/verified',
                                   { phone => '+15550110009' });
    $r = $t->post_form('/otp/verify',
                       { phone => '+15550110009', code => $code });
    is($r->{status}, 200, "$store: verified: send $n of 2 and verify");
}

$r = $t->post_form('/send/verified', { phone => '+15550110009' });
limited($r, 50, 60, "$store: verified: send 3 429 all the same");

# per client: otp_client_limit 2/1h across numbers, per client address

my $client = { headers => { 'X-Forwarded-For' => '192.0.2.11' } };
my $other = { headers => { 'X-Forwarded-For' => '192.0.2.12' } };

$r = $t->post_form('/send/client', { phone => '+15550110006' }, %$client);
pending($r, "$store: client limit: send 1 of 2");

$r = $t->post_form('/send/client', { phone => '+15550110007' }, %$client);
pending($r, "$store: client limit: send 2 of 2, another number");

$r = $t->post_form('/send/client', { phone => '+15550110008' }, %$client);
limited($r, 3590, 3600, "$store: client limit: send 3 429");

$r = $t->post_form('/otp/verify',
                   { phone => '+15550110008', code => '123456' });
is($r->{status}, 410, "$store: client limit: the refused send stored no code");

$r = $t->post_form('/send/client', { phone => '+15550110008' }, %$other);
pending($r, "$store: client limit: another client, same number 202");

# a window opened by a looser location lasts the stricter one's hour once
# that one counts in it (a looser location never shortens a window): the
# number's window, then the client's

$r = $t->post_form('/send/loose', { phone => '+15550110019' });
pending($r, "$store: windows: a send through the 15-minute location");
$r = $t->post_form('/send/strict', { phone => '+15550110019' });
pending($r, "$store: windows: one through the 1-hour location");
$r = $t->post_form('/send/strict', { phone => '+15550110019' });
limited($r, 3590, 3600,
        "$store: windows: the number's 1-hour limit holds for the hour");

my $c3 = { headers => { 'X-Forwarded-For' => '192.0.2.13' } };

$r = $t->post_form('/send/loose', { phone => '+15550110010' }, %$c3);
pending($r, "$store: windows: a client's send through the 15-minute one");
$r = $t->post_form('/send/strict', { phone => '+15550110011' }, %$c3);
pending($r, "$store: windows: its send through the 1-hour one");
$r = $t->post_form('/send/strict', { phone => '+15550110012' }, %$c3);
limited($r, 3590, 3600,
        "$store: windows: the client's 1-hour limit holds for the hour");

$t->stop;

}

$t->done;

###############################################################################
