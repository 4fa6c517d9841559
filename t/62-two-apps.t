#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# Several apps on one nginx: a server that sets otp_secret_file,
# otp_provider, otp_route or otp_token_key_file is an app of its own.  Two
# such servers, each with its own Twilio account (mock), secret, token key,
# app name and limits, and a third server that has the http level's app,
# on both stores:
#   - each sends through its own account, under its own name;
#   - a code sent by one never verifies on another, not even for the same
#     number (each has its own code for it), and one's resend window or
#     provider budget does not hold the other back;
#   - a token of one never opens another's gate;
#   - a status callback is checked with the app's own auth token, and the
#     status of one app's message is no other app's to read or change;
#   - a STOP received by one app opts the number out of that app only;
#   - a message is stored under its app's key: the fallback of a failed
#     WhatsApp message goes by SMS through the app's own account, and the
#     links between the two are the app's; the http level's server finds
#     no message of another app, not even by its full store key;
#   - one client's send windows (otp_client_limit) are each app's own;
#   - nginx -t refuses two apps with one secret, or with one token key,
#     and a server's app without a secret of its own (none is inherited);
#     it takes one app in two servers (the same four settings, included),
#     and an "otp_gate on" at http level that a server turns off.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use JSON::PP;
use MIME::Base64 qw(encode_base64);
use Digest::SHA qw(hmac_sha1_base64 hmac_sha256_hex);
use Time::HiRes qw(time sleep);
use OtpTest;
use MockProvider qw(form_hash drop_log_lines);

###############################################################################

my $t = OtpTest->new;

my $mock = MockProvider->new(dir => $t->dir);

my $ACA = 'ACaaaa1111aaaa1111aaaa1111aaaa1111';
my $ACB = 'ACbbbb2222bbbb2222bbbb2222bbbb2222';
my $TOKA = 'tokenAAAAaaaa0000aaaa0000aaaa0000';
my $TOKB = 'tokenBBBBbbbb1111bbbb1111bbbb1111';
my $HX = 'HXb5b62575e6e4ff6129ad7c8efe1f983e';

# a server's app id, as the store knows its messages: HMAC of its secret
my $APP_A = substr(hmac_sha256_hex('otp-app-id', 'A' x 44), 0, 16);

$t->write_file('a.secret', ('A' x 44) . "\n", 0600);
$t->write_file('b.secret', ('B' x 44) . "\n", 0600);
$t->write_file('a.token', ('a' x 64) . "\n", 0600);
$t->write_file('c.secret', ('C' x 44) . "\n", 0600);

mkdir $t->dir . '/html';
$t->write_file('html/app', 'hello <!--# echo var="otp_phone" -->');

my $conf = <<'EOF';

%%GLOBALS%%

events {
}

http {
    %%HTTP_GLOBALS%%

    @STORE@

    # the http level's app: the third server's
    otp_secret_file %%SECRET%%;
    otp_provider dev log;

    otp_client_limit off;
    otp_token_cookie off;

    # app A
    server {
        listen 127.0.0.1:%%PORT%%;

        otp_secret_file %%PREFIX%%/a.secret;
        otp_token_key_file %%PREFIX%%/a.token a1;
        otp_provider tw twilio account_sid=@ACA@ auth_token=@TOKA@
                     from=+15005550006 base_url=@MOCK@ budget=3/h;
        otp_public_url https://a.example;

        otp_app_name "App A";
        otp_resend_after 60s;
        otp_client_limit 10/1h;

        include common.conf;
    }

    # app B: its token key is derived from its secret
    server {
        listen 127.0.0.1:%%PORT1%%;

        otp_secret_file %%PREFIX%%/b.secret;
        otp_provider tw twilio account_sid=@ACB@ auth_token=@TOKB@
                     from=+15005550007 whatsapp_from=+14155238886
                     whatsapp_content_sid=@HX@ base_url=@MOCK@ budget=6/h;
        otp_public_url https://b.example;

        otp_app_name "App B";
        otp_resend_after 0s;
        otp_max_attempts 3;
        otp_client_limit 5/1h;

        include common.conf;

        location = /otp/send-wa {
            otp_channels whatsapp sms;
            otp_fallback on;
            otp_send;
        }
    }

    # the http level's app
    server {
        listen 127.0.0.1:%%PORT2%%;

        otp_resend_after 0s;

        location = /otp/send {
            otp_send;
        }

        location = /otp/verify {
            otp_verify;
        }

        location /otp/status/ {
            otp_status;
        }

        location /app {
            root %%PREFIX%%/html;
            default_type text/plain;
            ssi on;
            ssi_types text/plain;
            otp_gate on;
        }
    }
}

EOF

my $common = <<'EOF';
location = /otp/send {
    otp_send;
}

location = /otp/verify {
    otp_verify;
}

location /otp/status/ {
    otp_status;
}

location = /hooks/twilio {
    otp_webhook tw;
}

location /app {
    root %%PREFIX%%/html;
    default_type text/plain;
    ssi on;
    ssi_types text/plain;
    otp_gate on;
}
EOF

my %subst = (MOCK => $mock->url, ACA => $ACA, ACB => $ACB, TOKA => $TOKA,
             TOKB => $TOKB, HX => $HX);
$conf =~ s/@(ACA|ACB|TOKA|TOKB|MOCK|HX)@/$subst{$1}/g;

my @stores = $t->stores;

$t->plan(45 * @stores + 6);

###############################################################################

my ($PA, $PB, $P2) = map { $t->port($_) } qw(PORT PORT1 PORT2);

sub esc {
    my ($s) = @_;
    $s =~ s/([^A-Za-z0-9\-._~])/sprintf('%%%02X', ord $1)/ge;
    return $s;
}

# sends through a server; returns (response, the mock's request, its code)
sub send_at {
    my ($port, $phone) = @_;

    my $before = scalar $mock->requests;
    my $r = $t->post_form('/otp/send', { phone => $phone }, port => $port);
    my @req = $mock->requests;
    my $req = $req[$before];

    my %f = form_hash($req ? $req->{body} : '');
    my ($code) = ($f{Body} // '') =~ /(\d{6})/;
    $code //= $r->{status} == 202 ? $t->code_for($r->{json}{message_id})
                                  : undef;

    return ($r, $req, $code, $f{Body} // '');
}

sub verify_at {
    my ($port, $phone, $code) = @_;
    return $t->post_form('/otp/verify', { phone => $phone, code => $code },
                         port => $port);
}

sub gate_at {
    my ($port, $token) = @_;
    return $t->get('/app', port => $port,
                   headers => { Authorization => "Bearer $token" });
}

# a Twilio status callback, signed for a public URL with an auth token
sub callback_at {
    my ($port, $public, $token, %p) = @_;

    my $url = "$public/hooks/twilio";
    my $sig = hmac_sha1_base64($url . join('', map { $_ . $p{$_} }
                                                sort keys %p), $token);
    $sig .= '=' while length($sig) % 4;

    return $t->post('/hooks/twilio', 'application/x-www-form-urlencoded',
                    join('&', map { esc($_) . '=' . esc($p{$_}) }
                              sort keys %p),
                    port => $port,
                    headers => { 'X-Twilio-Signature' => $sig });
}

sub status_at {
    my ($port, $id) = @_;
    return $t->get("/otp/status/$id", port => $port);
}

# waits up to 3 s for the fallback's link in the record of message $id
sub next_at {
    my ($port, $id) = @_;

    my $deadline = time + 3;

    while (time < $deadline) {
        my $r = status_at($port, $id);
        return $r->{json}{next_message_id}
            if $r->{json} && $r->{json}{next_message_id};
        sleep 0.05;
    }

    return undef;
}

###############################################################################

for my $store (@stores) {

my $store_conf = $store eq 'shm' ? 'otp_store shm:otp_62:1m;' : '%%STORE%%';
(my $c = $conf) =~ s/\@STORE\@/$store_conf/;

$t->write_file('common.conf', $common =~ s/%%PREFIX%%/$t->dir/ger);
# its budget=N/h sends in one clock hour
OtpTest::clear_of_the_hour();

$t->write_config($c, store => $store)->run;
$mock->clear_requests;

my $n = $store eq 'shm' ? 1 : 2;
my $P = "+1555062${n}001";
my $Q = "+1555062${n}002";
my $R = "+1555062${n}003";
my $S = "+1555062${n}004";

# one number, two apps: each sends through its own account and name

my ($ra, $reqa, $codea, $texta) = send_at($PA, $P);
is($ra->{status}, 202, "$store: app A sends");
is($reqa && "$reqa->{path} $reqa->{headers}{authorization}",
   "/2010-04-01/Accounts/$ACA/Messages.json Basic "
   . encode_base64("$ACA:$TOKA", ''),
   "$store: through A's Twilio account");
like($texta, qr/^Your App A code is \d{6}/, "$store: under A's name");

my ($rb, $reqb, $codeb, $textb) = send_at($PB, $P);
is($rb->{status}, 202,
   "$store: app B sends to the same number (A's resend window is A's)");
is($reqb && "$reqb->{path} $reqb->{headers}{authorization}",
   "/2010-04-01/Accounts/$ACB/Messages.json Basic "
   . encode_base64("$ACB:$TOKB", ''),
   "$store: through B's Twilio account");
like($textb, qr/^Your App B code is \d{6}/, "$store: under B's name");

# codes: each app has its own code for the number

SKIP: {
skip "$store: the codes are equal, by chance", 2
    if !defined $codea || !defined $codeb || $codea eq $codeb;

response_is(verify_at($PB, $P, $codea), 401, {
    error => 'invalid_code',
    message => any_string,
    attempts_remaining => number(2),
}, "$store: A's code does not verify on B (B's own limits)");

response_is(verify_at($PA, $P, $codeb), 401, {
    error => 'invalid_code',
    message => any_string,
    attempts_remaining => number(4),
}, "$store: B's code does not verify on A");
}

my ($rq, undef, $codeq) = send_at($PA, $Q);
is($rq->{status}, 202, "$store: A sends to a second number");
is(verify_at($PB, $Q, $codeq)->{json}{error}, 'expired',
   "$store: a number only A sent to has no code on B");
is(verify_at($P2, $Q, $codeq)->{json}{error}, 'expired',
   "$store: nor on the server of the http level's app");

my $va = verify_at($PA, $P, $codea);
is($va->{status}, 200, "$store: A's code verifies on A");
my $vb = verify_at($PB, $P, $codeb);
is($vb->{status}, 200, "$store: B's code verifies on B");

my ($ta, $tb) = map { $_->{json} ? $_->{json}{token} // '' : '' } $va, $vb;

# tokens: each app's gate takes its own only

is((OtpTest::jwt_decode($ta))[0]{kid}, 'a1',
   "$store: A's token is signed with A's key");
like(gate_at($PA, $ta)->{body}, qr/^hello \+1555062${n}001$/,
     "$store: A's token opens A's gate");
is(gate_at($PB, $ta)->{status}, 401, "$store: A's token does not open B's");
is(gate_at($P2, $ta)->{status}, 401,
   "$store: nor the http level app's gate");
is(gate_at($PB, $tb)->{status}, 200, "$store: B's token opens B's gate");
is(gate_at($PA, $tb)->{status}, 401, "$store: B's token does not open A's");

# limits: A's resend window and budget are A's

is((send_at($PA, $Q))[0]{status}, 429,
   "$store: A's resend window holds on A");
is((send_at($PA, $R))[0]{status}, 202, "$store: A's third send of the hour");
is((send_at($PB, $R))[0]{status}, 202,
   "$store: B's budget is B's, though A's provider has the same name");
is((send_at($PB, $S))[0]{status}, 202, "$store: B's third send (of 4)");
response_is((send_at($PA, $S))[0], 429, {
    error => 'rate_limited',
    message => any_string,
    retry_after => int_in(1, 3600),
}, "$store: A's fourth is over A's budget of 3/h");

# statuses: A's callback, checked with A's token, changes A's message

my $sida = $ra->{json}{message_id};
my $sidb = $rb->{json}{message_id};

is(callback_at($PB, 'https://b.example', $TOKA, MessageSid => $sida,
               MessageStatus => 'delivered', AccountSid => $ACA)->{status},
   403, "$store: A's callback is not B's to take");
is(callback_at($PB, 'https://b.example', $TOKB, MessageSid => $sida,
               MessageStatus => 'failed', AccountSid => $ACB)->{status},
   200, "$store: B's own signed callback naming A's message answers 200");
is(callback_at($PA, 'https://a.example', $TOKA, MessageSid => $sida,
               MessageStatus => 'delivered', AccountSid => $ACA)->{status},
   200, "$store: A's callback on A");

my $sa = status_at($PA, $sida);
is($sa->{json} && "$sa->{json}{status} $sa->{json}{provider}",
   'delivered tw',
   "$store: A's message is delivered (B's callback changed nothing), "
   . "by provider tw");
is(status_at($PB, $sida)->{status}, 404,
   "$store: A's message is not found on B");
is(status_at($PB, $sidb)->{json}{status}, 'queued',
   "$store: B's own message is");

# users: a STOP to A is A's opt-out list, not B's

my $T = "+1555062${n}005";
is(callback_at($PA, 'https://a.example', $TOKA, MessageSid => "SMstop$n",
               AccountSid => $ACA, From => $T, To => '+15005550006',
               Body => 'STOP', NumMedia => '0',
               SmsStatus => 'received')->{status},
   200, "$store: STOP to A");
is($t->post_form('/otp/send', { phone => $T }, port => $PA)->{json}{error},
   'opted_out', "$store: the number is opted out of A");
is($t->post_form('/otp/send', { phone => $T }, port => $PB)->{status},
   202, "$store: and not of B");

# messages are stored under the app's key: Redis holds A's, by its key

if ($store eq 'redis') {
    is($t->redis_command('EXISTS', "otp:m:{$APP_A:$sida}"), 1,
       "$store: A's message is stored under A's key");
    is($t->redis_command('EXISTS', "otp:m:{$sida}"), 0,
       "$store: and under no plain key");
} else {
    ok(1, "$store: (the Redis keys are checked with Redis)") for 1 .. 2;
}

is(status_at($P2, $sida)->{status}, 404,
   "$store: the http level's app finds no message of A");
is(status_at($P2, "$APP_A:$sida")->{status}, 404,
   "$store: not even by A's full store key");

# a fallback of B's: WhatsApp failed, the code again by SMS through B

my $V = "+1555062${n}006";
my $before = scalar $mock->requests;
my $rv = $t->post_form('/otp/send-wa', { phone => $V }, port => $PB);
my $sidv = $rv->{json} ? $rv->{json}{message_id} // '' : '';
my %fv = form_hash((($mock->requests)[$before] // {})->{body} // '');
my $codev = eval { decode_json($fv{ContentVariables})->{1} };
$t->{codes}{$codev} = 1 if defined $codev;

ok($rv->{status} == 202 && $rv->{json}{channel} eq 'whatsapp'
   && defined $codev, "$store: B sends by WhatsApp");
is(callback_at($PB, 'https://b.example', $TOKB, MessageSid => $sidv,
               MessageStatus => 'failed', ErrorCode => '63016',
               AccountSid => $ACB)->{status},
   200, "$store: B's WhatsApp message failed");

my $next = next_at($PB, $sidv);
like($next // '', qr/^SM[0-9a-f]{32}$/,
     "$store: its record names the fallback by the provider's id");

my ($sms) = grep { ($_->{answer}{body} // '') =~ /\Q$next\E/ }
            $mock->requests(qr{/Messages\.json$});
my %fs = form_hash($sms ? $sms->{body} : '');
is($sms && "$sms->{path} $fs{To}",
   "/2010-04-01/Accounts/$ACB/Messages.json $V",
   "$store: the SMS went through B's account");
is(status_at($PB, $next)->{json}{previous_message_id}, $sidv,
   "$store: the fallback's record points back, by the provider's id");
is(verify_at($PB, $V, $codev)->{status}, 200,
   "$store: the code verifies on B");
is(status_at($PA, $next)->{status}, 404,
   "$store: B's fallback message is not A's");

# client windows: B's 5/1h took B's five sends only (A sent more from
# this address); a sixth is over

response_is($t->post_form('/otp/send', { phone => "+1555062${n}007" },
                          port => $PB), 429, {
    error => 'rate_limited',
    message => any_string,
    retry_after => int_in(1, 3600),
}, "$store: B's sixth send from one client is over B's client limit");

$t->stop;
}

# one [alert] per store, A's: B never went over its own budget

is(drop_log_lines($t, qr/\[alert\].*otp provider "tw" spent its budget/),
   scalar @stores, 'the budget [alert]s: A\'s, once per store');

###############################################################################

# nginx -t: apps kept apart, or no start

my $two = <<'EOF';

%%GLOBALS%%

events {
}

http {
    %%HTTP_GLOBALS%%

    otp_secret_file %%PREFIX%%/c.secret;
    otp_provider dev log;

    server {
        listen 127.0.0.1:%%PORT%%;
        otp_secret_file %%PREFIX%%/a.secret;
        @A@
        otp_provider dev log;
        location = /otp/send { otp_send; }
    }

    server {
        listen 127.0.0.1:%%PORT1%%;
        @B@
        otp_provider dev log;
        location = /otp/send { otp_send; }
    }

    # the http level's app
    server {
        listen 127.0.0.1:%%PORT2%%;
        location = /otp/verify { otp_verify; }
    }
}

EOF

sub two {
    my ($a, $b) = @_;
    (my $c = $two) =~ s/\@A\@/$a/;
    $c =~ s/\@B\@/$b/;
    $c =~ s/%%PREFIX%%/$t->dir/ge;
    return $t->check_config($c);
}

like(two('', 'otp_secret_file ' . $t->dir . '/a.secret; '
         . 'otp_provider extra log;'),
     qr/the app of the server in \S+ and the app of the server in \S+ have the same "otp_secret_file" content/,
     'nginx -t: two apps with one secret');
like(two('otp_token_key_file ' . $t->dir . '/a.token;',
         'otp_secret_file ' . $t->dir . '/b.secret; otp_token_key_file '
         . $t->dir . '/a.token;'),
     qr/the app of the server in \S+ and the app of the server in \S+ have a token key in common/,
     'nginx -t: two apps with one token key');
like(two('', ''),
     qr/"otp_secret_file" is required .* none in the app of the server in /,
     'nginx -t: a server\'s app without its own secret (the http level\'s '
     . 'is not inherited)');
like(two('', 'otp_secret_file ' . $t->dir . '/c.secret; '
         . 'otp_provider extra log;'),
     qr/the http level's app and the app of the server in .* have the same/,
     'nginx -t: a server\'s app with the http level\'s secret');

$t->write_file('app-b.conf', 'otp_secret_file ' . $t->dir . '/b.secret; '
               . 'otp_provider dev log;');

my $same = <<'EOF';

%%GLOBALS%%

events {
}

http {
    %%HTTP_GLOBALS%%

    otp_gate on;

    # one app, two servers: the same four settings, included
    server {
        listen 127.0.0.1:%%PORT%%;
        include %%PREFIX%%/app-b.conf;
        location = /otp/send { otp_send; }
    }

    server {
        listen 127.0.0.1:%%PORT1%%;
        include %%PREFIX%%/app-b.conf;
        location /x { }
    }

    # no app, and no gate: asks nothing of the http level's app
    server {
        listen 127.0.0.1:%%PORT2%%;
        otp_gate off;
        location / { }
    }
}

EOF

unlike($t->check_config($same), qr/\[emerg\]/,
       'nginx -t: one app in two servers (an include), and a server that '
       . 'turns off the http level\'s gate');

$t->done;

###############################################################################
