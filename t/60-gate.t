#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# otp_gate: a location behind it passes only a request with a valid,
# unexpired token of otp_verify (Bearer or cookie), and tells the upstream
# the verified phone ($otp_phone, the otp_gate_header request header, whose
# client copies are removed) and the token's jti ($otp_token_id).  Without
# one: 401 verification_required, or a 302 to otp_gate_login with the
# original URI in next=.  otp_logout clears the cookie.
#
# Tokens the tests make themselves are signed with the test key (kid k1) or
# a second key (kid k0) that a reload removes.  Their phones are never
# registered with the log checks: nginx's own debug lines print the
# headers a proxied request carries, which is the point of the gate.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use MIME::Base64 qw(encode_base64);
use Digest::SHA qw(hmac_sha256);
use JSON::PP;
use OtpTest;

###############################################################################

my $t = OtpTest->new;

$t->plan(43);

my $old_key = 'b' x 64;
$t->write_file('old.key', "$old_key\n", 0600);

mkdir $t->dir . "/$_" for qw(html html/web);
$t->write_file('html/plain', '<!--# echo var="otp_phone" --> '
                             . '<!--# echo var="otp_token_id" -->');
$t->write_file('html/open', '[<!--# echo var="otp_phone" default="" -->]');
$t->write_file('html/other-aud', 'in');
$t->write_file('html/web/x', 'in');

my $conf = <<'EOF';

%%GLOBALS%%

events {
}

http {
    %%HTTP_GLOBALS%%

    %%STORE%%
    otp_secret_file %%SECRET%%;
    otp_provider dev log;

    otp_token_key_file %%TOKEN_KEY%% k1;
    #OLD otp_token_key_file %%PREFIX%%/old.key k0;

    # the application: echoes what it was told
    server {
        listen 127.0.0.1:%%PORT1%%;

        location / {
            return 200 "phone=$http_x_otp_phone id=$http_x_otp_token_id\n";
        }
    }

    server {
        listen 127.0.0.1:%%PORT%%;
        listen 127.0.0.1:%%PORT2%% http2;

        otp_client_limit off;
        otp_resend_after 0s;
        otp_token_cookie otp_token;
        otp_token_issuer https://otp.example;
        otp_token_audience app;

        location = /otp/send {
            otp_send;
        }

        location = /otp/verify {
            otp_verify;
        }

        location /app/ {
            otp_gate on;
            proxy_pass http://127.0.0.1:%%PORT1%%;
            proxy_set_header X-OTP-Phone $otp_phone;
            proxy_set_header X-OTP-Token-Id $otp_token_id;
        }

        # the gate's own request header, no proxy_set_header
        location /app2/ {
            otp_gate on;
            proxy_pass http://127.0.0.1:%%PORT1%%;
        }

        # "return" would answer in the rewrite phase, before any access
        # check: these are files, with the variables put in by SSI
        root %%PREFIX%%/html;
        ssi on;
        default_type text/html;

        location = /plain {
            otp_gate on;
        }

        location = /open {
        }

        location = /other-aud {
            otp_gate on;
            otp_token_audience other;
        }

        location /web/ {
            otp_gate on;
            otp_gate_login /login?from=gate;
        }

        location = /logout {
            otp_logout;
        }
    }
}

EOF

(my $with_old = $conf) =~ s/#OLD //;

$t->write_config($with_old)->run;

sub b64url {
    my $s = encode_base64(shift, '');
    $s =~ tr{+/}{-_};
    $s =~ s/=+$//;
    return $s;
}

# a token as otp_verify makes them, with claims to taste
sub mint {
    my (%o) = @_;

    my $key = delete $o{key} // $t->token_key;
    my $kid = delete $o{kid} // 'k1';
    my $now = time;

    my %c = (sub => '+15550160001', iat => $now, exp => $now + 300,
             jti => 'tok-' . int(rand(1e9)), iss => 'https://otp.example',
             aud => 'app', %o);
    delete @c{ grep { !defined $c{$_} } keys %c };

    my $json = JSON::PP->new->canonical;
    my $input = b64url($json->encode({ alg => 'HS256', typ => 'JWT',
                                       kid => $kid }))
                . '.' . b64url($json->encode(\%c));

    return "$input." . b64url(hmac_sha256($input, $key));
}

sub bearer { return (headers => { Authorization => "Bearer $_[0]" }) }

sub refused {
    my ($r, $name, $invalid) = @_;

    is($r->{status} . ' ' . ($r->{json} ? $r->{json}{error} // '' : ''),
       '401 verification_required', "$name: 401 verification_required");
}

###############################################################################

# no token

my $r = $t->get('/plain');
refused($r, 'no token');
is($r->{headers}{'www-authenticate'}, 'Bearer', 'no token: WWW-Authenticate');
like($r->{headers}{'content-type'}, qr{^application/json}, 'no token: JSON');

# a token of otp_verify, as Bearer and as the cookie it set

my $phone = '+15550160100';
my (undef, $code) = $t->send_code('/otp/send', { phone => $phone });
$r = $t->post_form('/otp/verify', { phone => $phone, code => $code });
my $token = $r->{json}{token};
my (undef, $claims) = jwt_decode($token);

$r = $t->get('/plain', bearer($token));
is("$r->{status} $r->{body}", "200 $phone $claims->{jti}",
   'Bearer: passes, $otp_phone and $otp_token_id');

$r = $t->get('/plain', headers => { Cookie => "a=1; otp_token=$token; b=2" });
is("$r->{status} $r->{body}", "200 $phone $claims->{jti}", 'cookie: passes');

$r = $t->get('/open', bearer($token));
is($r->{body}, '[]', 'no gate: $otp_phone empty');

# tampered: another phone in the claims, the signature kept

(my $forged = $token) =~ s{^([^.]+)\.([^.]+)\.}{
    my $c = { %$claims, sub => '+15550169999' };
    "$1." . b64url(JSON::PP->new->canonical->encode($c)) . '.'
}e;

$r = $t->get('/plain', bearer($forged));
refused($r, 'tampered');
is($r->{headers}{'www-authenticate'}, 'Bearer error="invalid_token"',
   'tampered: invalid_token');

$r = $t->get('/plain', bearer(mint(key => 'x' x 64)));
refused($r, 'signed with an unknown key of the same kid');

$r = $t->get('/plain', bearer('not.a.token'));
refused($r, 'garbage');

# expired, iss, aud

$r = $t->get('/plain', bearer(mint(iat => time - 600, exp => time - 1)));
refused($r, 'expired');

$r = $t->get('/plain', bearer(mint(aud => 'other')));
refused($r, 'wrong aud');

$r = $t->get('/plain', bearer(mint(aud => undef)));
refused($r, 'no aud where one is configured');

$r = $t->get('/plain', bearer(mint(iss => 'https://evil.example')));
refused($r, 'wrong iss');

$r = $t->get('/other-aud', bearer($token));
refused($r, 'a token of another audience');

$r = $t->get('/plain', bearer(mint()));
is($r->{status}, 200, 'a token made with the test key passes');

# the phone header: the client's copy removed, the verified one set

$r = $t->get('/app/x', headers => { Authorization => 'Bearer ' . mint(jti => 'j-1'),
                                    'X-OTP-Phone' => '+15550169998' });
is($r->{body}, "phone=+15550160001 id=j-1\n",
   'proxy_set_header: $otp_phone and $otp_token_id upstream, not the '
   . 'client\'s header');

$r = $t->get('/app2/x', headers => { Authorization => 'Bearer ' . mint(),
                                     'x-otp-phone' => '+15550169998' });
is($r->{body}, "phone=+15550160001 id=\n",
   'the gate header: the verified phone, the client\'s removed');

$r = $t->get('/app2/x', headers => { 'X-OTP-Phone' => '+15550169998' });
refused($r, 'a phone header alone');

# the login redirect: a path of this site, with the original URI

$r = $t->get('/web/x?a=b&c=%2F');
is($r->{status}, 302, 'login: 302');
like($r->{headers}{location},
     qr{^(?:http://[^/]+)?/login\?from=gate&next=%2Fweb%2Fx%3Fa%3Db%26c%3D%252F$},
     'login: the original URI, query included, as next');
is($r->{headers}{'cache-control'}, 'no-store', 'login: not cached');

$r = $t->get('//web/x');
like($r->{headers}{location} // '',
     qr{^(?:http://[^/]+)?/login\?from=gate&next=%2F%2Fweb%2Fx$},
     'login: a URI like //host stays a parameter');

$r = $t->post('/web/x', 'application/json', '{}');
refused($r, 'login configured, a POST');

$r = $t->get('/web/x', bearer($token));
is("$r->{status} $r->{body}", '200 in', 'login configured, a token: in');

# logout: the cookie cleared, as verify set it

$r = $t->get('/logout', headers => { Cookie => "otp_token=$token" });
is($r->{headers}{'set-cookie'},
   'otp_token=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax',
   'logout: the cookie cleared');
is("$r->{status} $r->{body}", "200 {\"logged_out\":true}\n",
   'logout: 200 JSON');

# a cookie jar drops a cookie of Max-Age=0
my %jar = (otp_token => $token);
for (split /,\s*(?=\w+=)/, $r->{headers}{'set-cookie'}) {
    my ($name, $value) = /^([^=]+)=([^;]*)/;
    delete $jar{$name} if /Max-Age=0/i;
}
my $cookie = join '; ', map { "$_=$jar{$_}" } sort keys %jar;
$r = $t->get('/plain', $cookie ? (headers => { Cookie => $cookie }) : ());
refused($r, 'after logout');

$r = $t->get('/logout?next=%2Fbye%3Fx%3D1');
like($r->{headers}{location} // '', qr{^(?:http://[^/]+)?/bye\?x=1$},
     'logout: next= a path, 302');

for my $next ('//evil.example/', 'https://evil.example/', '%2F%2Fevil.example',
              '/%5Cevil.example', '/x%0d%0aSet-Cookie:a=b')
{
    $r = $t->get("/logout?next=$next");
    is("$r->{status} " . ($r->{headers}{location} // '-'), '200 -',
       "logout: next=$next ignored");
}

# HTTP/2

$r = $t->get('/plain', bearer($token), h2 => 1, port => $t->port('PORT2'));
is("$r->{status} $r->{body}", "200 $phone $claims->{jti}", 'HTTP/2: passes');

# a removed key: its tokens refused after the reload, the others still pass

my $old = mint(key => $old_key, kid => 'k0');
$r = $t->get('/plain', bearer($old));
is($r->{status}, 200, 'a token of a listed key passes');

$t->write_config($conf);
$t->reload;

$r = $t->get('/plain', bearer($old));
refused($r, 'a token of a removed key');

$r = $t->get('/plain', bearer($token));
is($r->{status}, 200, 'a token of a key still listed passes');

$t->stop;

# what nginx -t refuses

for my $login ('https://evil.example/login', '//evil.example/login',
               '/\\evil.example', 'login')
{
    my $out = $t->check_config(<<"EOF");
%%GLOBALS%%
events {}
http {
    %%HTTP_GLOBALS%%
    otp_secret_file %%SECRET%%;
    server {
        listen 127.0.0.1:%%PORT%%;
        location / { otp_gate on; otp_gate_login $login; }
    }
}
EOF

    like($out, qr/"otp_gate_login" must be a path on this site/,
         "nginx -t refuses otp_gate_login $login");
}

my $out = $t->check_config(<<'EOF');
%%GLOBALS%%
events {}
http {
    %%HTTP_GLOBALS%%
    server {
        listen 127.0.0.1:%%PORT%%;
        location / { otp_gate on; }
    }
}
EOF
like($out, qr/"otp_gate" needs "otp_token_key_file" or "otp_secret_file"/,
     'nginx -t: a gate without a key');

$t->done;
