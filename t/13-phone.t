#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# Phone numbers (API.md, "Phone numbers"): spaces, dashes, dots and
# parentheses are dropped, a leading 00 reads as +, a number without + takes
# otp_default_country_code (after one trunk 0) where it is set; the E.164
# form is the one number the store knows, whatever the writing; anything
# else is 400 invalid_phone.  Both stores.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use OtpTest;

###############################################################################

my $t = OtpTest->new;

$t->plan(25 * $t->stores);

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

    server {
        listen 127.0.0.1:%%PORT%%;

        otp_client_limit off;

        location = /otp/send {
            otp_send;
        }

        location = /otp/verify {
            otp_verify;
        }

        location = /uk/send {
            otp_default_country_code 44;
            otp_send;
        }

        location = /uk/verify {
            otp_default_country_code 44;
            otp_verify;
        }
    }
}

EOF

sub sub_of {
    my ($r) = @_;
    my (undef, $claims) = eval { jwt_decode($r->{json}{token}) };
    return $claims ? $claims->{sub} : undef;
}

sub invalid_phone {
    my ($r, $name) = @_;
    response_is($r, 400, { error => 'invalid_phone', message => any_string },
                $name);
}

###############################################################################

for my $store ($t->stores) {

$t->write_config($conf, store => $store)->run;

my ($r, $code, $sent);

# one number, three writings: "+1 (555) 012-3001" is sent, "001555..." and
# "+1.555.012.3001" name the same number

($r, $code) = $t->send_code('/otp/send', { phone => '+1 (555) 013-3001' });
is($r->{status}, 202, "$store: punctuation: +1 (555) 013-3001 202");

$sent = $t->sent($r->{json}{message_id});
is($sent && $sent->{to}, '+1******3001', "$store: punctuation: masked E.164");

$r = $t->post_form('/otp/send', { phone => '+1.555.013.3001' });
is($r->{status}, 429, "$store: punctuation: +1.555.013.3001 is the same "
                      . "number (resend too early)");

$r = $t->post_form('/otp/verify', { phone => '0015550133001', code => $code });
is($r->{status}, 200, "$store: 00: 0015550133001 verifies the code");
is(sub_of($r), '+15550133001', "$store: 00: the token's sub is E.164");

# 00 on the send side, + on the verify side

($r, $code) = $t->send_code('/otp/send', { phone => '00 1 555 013 3002' });
is($r->{status}, 202, "$store: 00: 00 1 555 013 3002 202");

$r = $t->post_json('/otp/verify', { phone => '+15550133002', code => $code });
is($r->{status}, 200, "$store: 00: +15550133002 verifies the code");

# no + and no default country code: 400

$r = $t->post_form('/otp/send', { phone => '5550133003' });
invalid_phone($r, "$store: national: no + without a default 400");

$r = $t->post_form('/otp/verify', { phone => '5550133003', code => '123456' });
invalid_phone($r, "$store: national: verify too");

# otp_default_country_code 44: the trunk 0 goes, 44 comes

($r, $code) = $t->send_code('/uk/send', { phone => '07700 900123' });
is($r->{status}, 202, "$store: default cc: 07700 900123 202");
$t->uses_phone('+447700900123');

$sent = $t->sent($r->{json}{message_id});
is($sent && $sent->{to}, '+4*******0123',
   "$store: default cc: sent to +447700900123");

$r = $t->post_form('/otp/verify', { phone => '+447700900123', code => $code });
is($r->{status}, 200, "$store: default cc: +447700900123 verifies");
is(sub_of($r), '+447700900123', "$store: default cc: sub +447700900123");

($r, $code) = $t->send_code('/uk/send', { phone => '7700 900124' });
$t->uses_phone('+447700900124');
$r = $t->post_form('/uk/verify', { phone => '+44 7700 900124', code => $code });
is($r->{status}, 200, "$store: default cc: without a trunk 0 too");

# a + or 00 number keeps its own country code

($r, $code) = $t->send_code('/uk/send', { phone => '+15550133004' });
$sent = $t->sent($r->{json}{message_id});
is($sent && $sent->{to}, '+1******3004', "$store: default cc: +1 stays +1");

# JSON escapes are read before the number is

($r, $code) = $t->send_code('/otp/send', { phone => '+15550133006' });
$r = $t->post_json('/otp/verify',
                   qq({"phone":"\\u002b1555013300\\u0036","code":"$code"}));
is($r->{status}, 200, "$store: json: \\u escapes in the phone");

# a raw + in a form body is a space (README): not E.164 without a default

$r = $t->post('/otp/send', 'application/x-www-form-urlencoded',
              'phone=+15550133007');
$t->uses_phone('+15550133007');
invalid_phone($r, "$store: form: a raw + reads as a space 400");

# lengths: 8 to 15 digits

$r = $t->post_form('/otp/send', { phone => '+12345678' });
is($r->{status}, 202, "$store: length: 8 digits 202");

$r = $t->post_form('/otp/send', { phone => '+123456789012345' });
is($r->{status}, 202, "$store: length: 15 digits 202");

$r = $t->post_form('/otp/send', { phone => '+1234567' });
invalid_phone($r, "$store: length: 7 digits 400");

$r = $t->post_form('/otp/send', { phone => '+1234567890123456' });
invalid_phone($r, "$store: length: 16 digits 400");

# not a phone number

$r = $t->post_form('/otp/send', { phone => '+1555013300x' });
invalid_phone($r, "$store: a letter 400");

$r = $t->post_form('/otp/send', { phone => '++15550133005' });
invalid_phone($r, "$store: two + 400");

$r = $t->post_form('/otp/send', { phone => '1555+0133005' });
invalid_phone($r, "$store: + inside 400");

$r = $t->post_form('/otp/send', { phone => '+05550133005' });
invalid_phone($r, "$store: country code 0 400");

$t->stop;

}

$t->done;

###############################################################################
