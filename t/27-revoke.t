#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# A code that no provider accepted is revoked before the 502 is answered
# (REVOKE in src/ngx_http_otp_store.h): a provider, proxy or WAF that
# refused the request may quote it back, so it must never verify (410
# expired); the refused send still counts toward the number's send limit,
# and the resend cooldown does not apply to it.  Both stores.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use OtpTest;
use POSIX ();
use MockProvider qw(form_hash mask);

###############################################################################

my $t = OtpTest->new;

# 10 a store, and 2 that need Redis
$t->plan(10 * $t->stores + 2 * grep { $_ eq 'redis' } $t->stores);

my $mock = MockProvider->new(dir => $t->dir);

my $AC = 'AC27272727272727272727272727272727';

my $conf = <<'EOF';

%%GLOBALS%%
worker_processes 1;

events {
}

http {
    %%HTTP_GLOBALS%%

    %%STORE%%
    otp_secret_file %%SECRET%%;

    otp_provider tw twilio account_sid=@AC@ auth_token=revoketoken
                 from=+15005550006 base_url=@MOCK@;

    server {
        listen 127.0.0.1:%%PORT%%;

        otp_client_limit off;
        otp_resend_after 30s;
        otp_send_limit 2/15m;

        location = /otp/send {
            otp_send;
        }

        location = /otp/send/now {
            otp_resend_after 0s;
            otp_send_limit 10/15m;
            otp_send;
        }

        location = /otp/verify {
            otp_verify;
        }
    }
}

EOF

my %subst = (MOCK => $mock->url, AC => $AC);
$conf =~ s/@(\w+)@/$subst{$1}/g;

# the code in the last message the mock was asked to send
sub last_code {
    my @req = $mock->requests(qr/Messages/);
    my %f = @req ? eval { form_hash($req[-1]{body}) } : ();
    return ($f{Body} // '') =~ /\b(\d{6})\b/ ? $1 : 'none';
}

my $refuse = { status => 400, body => {
    code => 21211, message => "The 'To' number is not a valid phone number.",
    more_info => 'https://www.twilio.com/docs/errors/21211', status => 400,
} };

###############################################################################

for my $store ($t->stores) {

$t->write_config($conf, store => $store)->run;

my ($r, $code);
my $phone = $store eq 'shm' ? '+15550270001' : '+15550270101';

$mock->on(qr/Messages/ => $refuse);

$r = $t->post_form('/otp/send', { phone => $phone });
is($r->{status}, 502, "$store: the provider refuses: 502 delivery_failed");

$code = last_code();
like($code, qr/^\d{6}$/, "$store: the code the provider was asked to send");

$r = $t->post_form('/otp/verify', { phone => $phone, code => $code });
response_is($r, 410, { error => 'expired', message => any_string },
            "$store: that code never verifies: 410 expired");

# no cooldown: a resend at once reaches the provider again (a number of
# its own, that no verify touched)

$phone = $store eq 'shm' ? '+15550270003' : '+15550270103';

$r = $t->post_form('/otp/send', { phone => $phone });
is($r->{status}, 502, "$store: another number: 502 delivery_failed");

$mock->reset;

$r = $t->post_form('/otp/send', { phone => $phone });
is($r->{status}, 202,
   "$store: a resend at once is no 429 cooldown: 202 this time");

$r = $t->post_form('/otp/verify', { phone => $phone, code => last_code() });
is($r->{status}, 200, "$store: and its code verifies");

# the refused send counted toward otp_send_limit 2/15m: the third send
# is limited even though only one code was delivered

$r = $t->post_form('/otp/send', { phone => $phone });
response_is($r, 429, {
    error => 'rate_limited',
    message => any_string,
    retry_after => int_in(890, 900),
}, "$store: the refused send counted toward the send limit");

# a revoke keeps the number's failures: a wrong guess, a refused resend
# (its code replaced the first, and is revoked), a delivered one: the
# failure still counts

my $other = $store eq 'shm' ? '+15550270002' : '+15550270102';

$t->post_form('/otp/send/now', { phone => $other });
$code = last_code();
$r = $t->post_form('/otp/verify',
                   { phone => $other, code => sprintf('%06d',
                                                      ($code + 1) % 1e6) });
is($r->{json} && $r->{json}{attempts_remaining}, 4,
   "$store: a wrong guess, 4 left (otp_max_attempts 5)");

$mock->on(qr/Messages/ => $refuse);
$r = $t->post_form('/otp/send/now', { phone => $other });
is($r->{status}, 502, "$store: a refused resend 502");

$mock->reset;
$r = $t->post_form('/otp/send/now', { phone => $other });
$code = last_code();
$r = $t->post_form('/otp/verify',
                   { phone => $other, code => sprintf('%06d',
                                                      ($code + 1) % 1e6) });
is($r->{json} && $r->{json}{attempts_remaining}, 3,
   "$store: the failure before the revoke still counts: 3 left");

# Redis stops answering while the provider takes its time to refuse: the
# revoke fails (times out), the answer is still the 502, and the failure
# is logged

if ($store eq 'redis') {
    my $phone3 = '+15550270104';

    $mock->on(qr/Messages/ => { %$refuse, delay => 1 });

    my $before = scalar $mock->requests(qr/Messages/);

    pipe(my $res_r, my $res_w) or die "pipe: $!";
    my $kid = fork() // die "fork: $!";

    if ($kid == 0) {
        close $res_r;
        my $res = $t->post_form('/otp/send/now', { phone => $phone3 },
                                timeout => 10);
        syswrite $res_w, "$res->{status}\n";
        POSIX::_exit(0);
    }

    close $res_w;
    $t->uses_phone($phone3);

    # stopped, not killed: the revoke then surely meets a silent Redis
    $mock->wait_requests($before + 1, qr/Messages/, 3);
    kill 'STOP', $t->{redis_pid};

    my $status = <$res_r> // 'none';
    chomp $status;
    waitpid($kid, 0);

    kill 'CONT', $t->{redis_pid};

    is($status, 502, "$store: the store down at the revoke: still 502");

    my $m = mask($phone3);
    my $re = qr/\[error\].*otp could not revoke the undelivered code /
             . qr/for \Q$m\E: the store is unavailable/;

    is(scalar(grep { $_ =~ $re } split /\n/, $t->read_file('error.log')),
       1, "$store: the failed revoke is logged");

    $mock->reset;

}

$t->stop;

}

$mock->stop;
$t->done;

###############################################################################
