#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# Verify a code (API.md, "Verify a code"): 200 with a token (an HS256 JWT
# with kid, sub, iat, exp, jti, iss, aud, and the cookie where configured),
# 401 invalid_code with attempts_remaining, 410 expired (never sent,
# consumed, TTL passed), 429 too_many_attempts once the attempts are used up
# (and 429 rate_limited for a send to the locked number), 400 for bad
# input.  Both stores.

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

$t->plan(44 * $t->stores);

my $conf = <<'EOF';

%%GLOBALS%%
worker_processes 1;

events {
}

http {
    %%HTTP_GLOBALS%%

    %%STORE%%
    otp_secret_file %%SECRET%%;
    otp_token_key_file %%TOKEN_KEY%% test-1;
    otp_provider dev log;

    server {
        listen 127.0.0.1:%%PORT%%;

        otp_client_limit off;
        otp_resend_after 0s;

        location = /otp/send {
            otp_max_attempts 3;
            otp_lockout 15m;
            otp_send;
        }

        location = /otp/send/short-lock {
            otp_max_attempts 2;
            otp_lockout 2s;
            otp_send;
        }

        location = /otp/send/short-ttl {
            otp_ttl 1s;
            otp_send;
        }

        location = /otp/verify {
            otp_token_ttl 10m;
            otp_token_issuer https://auth.example.test;
            otp_token_audience example-app;
            otp_token_cookie otp_token;
            otp_verify;
        }

        # the token defaults: 1h, no iss, no aud, no cookie
        location = /otp/verify/plain {
            otp_verify;
        }
    }
}

EOF

sub invalid {
    my ($r, $left, $name) = @_;
    response_is($r, 401, {
        error => 'invalid_code',
        message => any_string,
        attempts_remaining => number($left),
    }, $name);
}

sub expired {
    my ($r, $name) = @_;
    response_is($r, 410, { error => 'expired', message => any_string },
                $name);
}

sub too_many {
    my ($r, $lo, $hi, $name) = @_;

    my $retry = $r->{json} ? $r->{json}{retry_after} // '' : '';

    response_is($r, 429, {
        error => 'too_many_attempts',
        message => any_string,
        retry_after => int_in($lo, $hi),
    }, $name, { 'Retry-After' => "$retry" });

    return $retry =~ /^\d+$/ ? $retry : $hi;
}

# a code that is surely not $code, of the same length
sub wrong {
    my ($code, $n) = @_;
    my $len = length $code;
    return sprintf("%0${len}d", ($code + ($n // 1)) % (10 ** $len));
}

###############################################################################

for my $store ($t->stores) {

$t->write_config($conf, store => $store)->run;

my ($r, $code, $retry);

# 200: the right code, with a token and the cookie

(undef, $code) = $t->send_code('/otp/send', { phone => '+15550120001' });

$r = $t->post_form('/otp/verify', { phone => '+15550120001', code => $code });

response_is($r, 200, {
    verified => true,
    token => qr/^[\w-]+\.[\w-]+\.[\w-]+$/,
}, "$store: verify: 200 verified with a token");

my $token = $r->{json} ? $r->{json}{token} : '';
my $now = time;

my ($header, $claims, $sig_ok) = eval { jwt_decode($token, $t->token_key) };

ok($header, "$store: token: a JWT of three base64url JSON parts")
    or diag($@);

$header ||= {};
$claims ||= {};

is($header->{alg}, 'HS256', "$store: token: alg HS256");
is($header->{kid}, 'test-1', "$store: token: kid of the signing key");
ok($sig_ok, "$store: token: signed with the otp_token_key_file key");
is($claims->{sub}, '+15550120001', "$store: token: sub is the E.164 phone");
ok(defined $claims->{iat} && abs($claims->{iat} - $now) <= 5,
   "$store: token: iat is now");
is(($claims->{exp} // 0) - ($claims->{iat} // 0), 600,
   "$store: token: exp is iat + otp_token_ttl");
like($claims->{jti} // '', qr/^[\w-]{16,}$/, "$store: token: a jti");
is($claims->{iss}, 'https://auth.example.test', "$store: token: iss");
is($claims->{aud}, 'example-app', "$store: token: aud");

my $jti = $claims->{jti} // '';

is($r->{headers}{'set-cookie'},
   "otp_token=$token; Path=/; Max-Age=600; HttpOnly; SameSite=Lax",
   "$store: verify: the token cookie");

# 410: the code was consumed

$r = $t->post_form('/otp/verify', { phone => '+15550120001', code => $code });
expired($r, "$store: verify: the same code again 410 expired");

# 200: a JSON body; the token defaults: 1h, no iss, aud or cookie

(undef, $code) = $t->send_code('/otp/send', { phone => '+15550120002' });

$r = $t->post_json('/otp/verify/plain',
                   { phone => '+15550120002', code => $code });

response_is($r, 200, {
    verified => true,
    token => qr/^[\w-]+\.[\w-]+\.[\w-]+$/,
}, "$store: verify: 200 for a JSON body", { 'Set-Cookie' => undef });

($header, $claims) = eval { jwt_decode($r->{json}{token}) };
$claims ||= {};

is(($claims->{exp} // 0) - ($claims->{iat} // 0), 3600,
   "$store: token: otp_token_ttl defaults to 1h");
ok(!exists $claims->{iss} && !exists $claims->{aud},
   "$store: token: no iss or aud unless configured");
ok(!grep({ $_->[0] =~ /^set-cookie$/i } @{ $r->{header_list} || [] }),
   "$store: verify: no cookie unless configured");

isnt($claims->{jti} // '', $jti, "$store: token: each token its own jti");

# 410: no code was ever sent to this number

$r = $t->post_form('/otp/verify',
                   { phone => '+15550120003', code => '123456' });
expired($r, "$store: verify: never sent 410 expired");

# 401: a wrong code costs an attempt (otp_max_attempts 3), the code lives on

(undef, $code) = $t->send_code('/otp/send', { phone => '+15550120004' });

$r = $t->post_form('/otp/verify',
                   { phone => '+15550120004', code => wrong($code) });
invalid($r, 2, "$store: verify: wrong code 401, 2 attempts left");

$r = $t->post_form('/otp/verify',
                   { phone => '+15550120004', code => wrong($code, 2) });
invalid($r, 1, "$store: verify: wrong code 401, 1 attempt left");

$r = $t->post_form('/otp/verify', { phone => '+15550120004', code => $code });
is($r->{status}, 200, "$store: verify: the right code after two wrong ones");

# 429: the last attempt is a 401 with 0 left; then the code is dead and the
# number locked for otp_lockout (15m): verify 429 too_many_attempts, even
# with the right code, and send 429 rate_limited

(undef, $code) = $t->send_code('/otp/send', { phone => '+15550120005' });

for my $left (2, 1, 0) {
    $r = $t->post_form('/otp/verify', { phone => '+15550120005',
                                        code => wrong($code, $left + 1) });
    invalid($r, $left, "$store: exhaust: wrong code 401, $left left");
}

$r = $t->post_form('/otp/verify', { phone => '+15550120005', code => $code });
too_many($r, 890, 900, "$store: exhaust: the right code 429 too_many_attempts");

$r = $t->post_form('/otp/verify',
                   { phone => '+15550120005', code => wrong($code) });
too_many($r, 890, 900, "$store: exhaust: a wrong code 429 too_many_attempts");

$r = $t->post_form('/otp/send', { phone => '+15550120005' });
response_is($r, 429, {
    error => 'rate_limited',
    message => any_string,
    retry_after => int_in(890, 900),
}, "$store: exhaust: send to the locked number 429 rate_limited",
{ 'Retry-After' => qr/^(89\d|900)$/ });

# the lock ends after otp_lockout (2s here): the dead code stays dead (410),
# a new send is accepted, and its attempts start again from the top

(undef, $code) = $t->send_code('/otp/send/short-lock',
                               { phone => '+15550120006' });

$t->post_form('/otp/verify', { phone => '+15550120006', code => wrong($code) });
$r = $t->post_form('/otp/verify',
                   { phone => '+15550120006', code => wrong($code, 2) });
invalid($r, 0, "$store: lock ends: second wrong code 401, 0 left");

$r = $t->post_form('/otp/verify', { phone => '+15550120006', code => $code });
$retry = too_many($r, 1, 2, "$store: lock ends: locked for 2s");

sleep($retry + 0.1);

$r = $t->post_form('/otp/verify', { phone => '+15550120006', code => $code });
expired($r, "$store: lock ends: the dead code 410 expired");

my $old = $code;
($r, $code) = $t->send_code('/otp/send/short-lock',
                             { phone => '+15550120006' });
is($r->{status}, 202, "$store: lock ends: send 202 again");

$r = $t->post_form('/otp/verify', { phone => '+15550120006',
                                    code => $old ne $code ? $old
                                                          : wrong($code) });
invalid($r, 1, "$store: lock ends: attempts counted afresh");

$r = $t->post_form('/otp/verify', { phone => '+15550120006', code => $code });
is($r->{status}, 200, "$store: lock ends: the new code verifies");

# 410: the TTL passed (otp_ttl 1s)

($r, $code) = $t->send_code('/otp/send/short-ttl', { phone => '+15550120007' });
is($r->{json} && $r->{json}{expires_in}, 1, "$store: ttl: expires_in 1");

sleep(1.2);

$r = $t->post_form('/otp/verify', { phone => '+15550120007', code => $code });
expired($r, "$store: ttl: the right code after its TTL 410 expired");

# 400: bad input, which costs no attempt

(undef, $code) = $t->send_code('/otp/send', { phone => '+15550120008' });

$r = $t->post_form('/otp/verify',
                   { phone => '+15550120008', code => '12a456' });
response_is($r, 400, { error => 'invalid_request', message => any_string },
            "$store: verify: a code with a letter 400 invalid_request");

$r = $t->post_form('/otp/verify', { phone => '+15550120008', code => '123' });
response_is($r, 400, { error => 'invalid_request', message => any_string },
            "$store: verify: a 3-digit code 400 invalid_request");

$r = $t->post_form('/otp/verify',
                   { phone => '+15550120008', code => '12345678901' });
response_is($r, 400, { error => 'invalid_request', message => any_string },
            "$store: verify: an 11-digit code 400 invalid_request");

$r = $t->post_form('/otp/verify', { phone => '+15550120008' });
response_is($r, 400, { error => 'invalid_request', message => any_string },
            "$store: verify: no code 400 invalid_request");

$r = $t->post_json('/otp/verify', qq({"phone":"+15550120008","code":$code}));
response_is($r, 400, { error => 'invalid_request', message => any_string },
            "$store: verify: the code as a JSON number 400 invalid_request");

$r = $t->post_form('/otp/verify', { code => $code });
response_is($r, 400, { error => 'invalid_request', message => any_string },
            "$store: verify: no phone 400 invalid_request");

$r = $t->post_form('/otp/verify', { phone => '555-CALL-NOW', code => $code });
response_is($r, 400, { error => 'invalid_phone', message => any_string },
            "$store: verify: a bad phone 400 invalid_phone");

$r = $t->post_form('/otp/verify',
                   { phone => '+15550120008', code => wrong($code) });
invalid($r, 2, "$store: verify: the 400s cost no attempt");

$t->stop;

}

$t->done;

###############################################################################
