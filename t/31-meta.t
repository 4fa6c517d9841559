#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# The meta_whatsapp provider against a mock of the WhatsApp Cloud API
# (t/lib/MockProvider.pm): POST /v21.0/{phone_number_id}/messages with a
# Bearer token and the exact JSON of an authentication template (the code as
# body parameter and copy-code button, the number without '+'); the code
# the phone gets verifies; the 202's message_id is the wamid, whole; version=,
# language= and token_file= are honoured; a Graph API error
# (OAuthException 190, or a "(#131030)" one) ends in 502 with Meta's words;
# no log line holds the code or the token.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use JSON::PP;
use OtpTest;
use MockProvider qw(mask star_digits scrubbed leaks log_lines);

###############################################################################

my $t = OtpTest->new;

$t->plan(20);

my $mock = MockProvider->new(dir => $t->dir);

my $TOKEN = 'EAAGm0PX4ZCpsBAtestTOKENxyzZBZCabcDEF123ghiJKL';
my $TOKEN2 = 'EAAJfromAfileTOKENqrsTUV987wxyzABC';
my $PNID = '106540352242922';
my $PNID2 = '224466880011335';

$t->write_file('meta.token', "$TOKEN2\n", 0600);

my $conf = <<'EOF';

%%GLOBALS%%
worker_processes 1;

events {
}

http {
    %%HTTP_GLOBALS%%

    %%STORE%%
    otp_secret_file %%SECRET%%;

    otp_provider wa meta_whatsapp phone_number_id=@PNID@ token=@TOKEN@
                 template=acme_otp base_url=@MOCK@;

    otp_provider wa_br meta_whatsapp phone_number_id=@PNID2@
                 token_file=%%PREFIX%%/meta.token template=acme_codigo
                 language=pt_BR version=v19.0 base_url=@MOCK@;

    otp_route whatsapp +55 wa_br;
    otp_route whatsapp default wa;

    server {
        listen 127.0.0.1:%%PORT%%;

        otp_client_limit off;

        location = /otp/send {
            otp_channels whatsapp;
            otp_send;
        }

        location = /otp/verify {
            otp_verify;
        }
    }
}

EOF

my %subst = (MOCK => $mock->url, TOKEN => $TOKEN, PNID => $PNID,
             PNID2 => $PNID2);
$conf =~ s/@(\w+)@/$subst{$1}/g;

$t->write_config($conf)->run;

###############################################################################

my @codes;

sub send_one {
    my ($fields) = @_;

    my $before = scalar $mock->requests;
    my $r = $t->post_form('/otp/send', $fields);
    my @req = $mock->requests;

    return ($r, @req[$before .. $#req]);
}

sub wamid_of {
    my ($req) = @_;
    my $a = eval { decode_json($req->{answer}{body}) } || {};
    return eval { $a->{messages}[0]{id} } // '';
}

# the message the module must send, compact, members in documented order
sub template_json {
    my ($to, $name, $lang, $code) = @_;

    return '{"messaging_product":"whatsapp","recipient_type":"individual",'
        . qq("to":"$to","type":"template","template":{"name":"$name",)
        . qq("language":{"code":"$lang"},"components":[{"type":"body",)
        . qq("parameters":[{"type":"text","text":"$code"}]},{"type":"button",)
        . qq("sub_type":"url","index":"0","parameters":[{"type":"text",)
        . qq("text":"$code"}]}]}});
}

sub code_of {
    my ($req) = @_;
    my $m = eval { decode_json($req->{body}) } || {};
    return eval { $m->{template}{components}[0]{parameters}[0]{text} };
}

###############################################################################

# the exact request

my ($r, $req, @more) = send_one({ phone => '+15550310001' });

my $wamid = wamid_of($req // {});

response_is($r, 202, {
    status => 'pending',
    message_id => $wamid,
    channel => 'whatsapp',
    provider => 'wa',
    expires_in => number(300),
    resend_after => number(30),
}, 'meta: 202 with the wamid Meta answered, whole');

like($wamid, qr/^wamid\.[A-Za-z0-9]{52}$/, 'meta: a wamid of real length ('
     . length($wamid) . ')');

ok($req && !@more, 'meta: one request');

is($req && "$req->{method} $req->{path}", "POST /v21.0/$PNID/messages",
   'meta: POST /v21.0/{phone_number_id}/messages');

is($req && $req->{headers}{authorization}, "Bearer $TOKEN",
   'meta: Bearer token');

like($req && $req->{headers}{'content-type'},
     qr{^application/json(; ?charset=utf-8)?$}i, 'meta: a JSON body');

my $code = code_of($req // {});
push @codes, $code;

like($code // '', qr/^\d{6}$/, 'meta: a 6-digit code');

is($req && $req->{body},
   template_json('15550310001', 'acme_otp', 'en_US', $code // ''),
   'meta: the template message exactly, the number without "+"');

ok($code && index($r->{raw}, $code) < 0, 'meta: the 202 does not hold the code');

$r = $t->post_form('/otp/verify', { phone => '+15550310001', code => $code });
is($r->{status}, 200, 'meta: the code in the message verifies');

# version=, language=, token_file=

($r, $req) = send_one({ phone => '+5511987654321' });

response_is($r, 202, {
    status => 'pending',
    message_id => wamid_of($req // {}),
    channel => 'whatsapp',
    provider => 'wa_br',
    expires_in => number(300),
    resend_after => number(30),
}, 'meta options: 202 from wa_br');

$code = code_of($req // {});
push @codes, $code;

is($req && join(' ', $req->{path}, $req->{headers}{authorization},
                $req->{body}),
   "/v19.0/$PNID2/messages Bearer $TOKEN2 "
   . template_json('5511987654321', 'acme_codigo', 'pt_BR', $code // ''),
   'meta options: version, phone number id, token from the file, language');

# an expired token: OAuthException 190

my $oauth = {
    error => {
        message => 'Error validating access token: Session has expired on '
                   . 'Friday, 01-Nov-24 00:00:00 PDT. The current time is '
                   . 'Saturday, 02-Nov-24 10:11:12 PDT.',
        type => 'OAuthException',
        code => 190,
        error_subcode => 463,
        fbtrace_id => 'AzbRY1KfZ3nh2Wb7mJpQx5h',
    },
};

$mock->on(qr{/messages$} => { status => 401, body => $oauth });

($r, $req) = send_one({ phone => '+15550310002' });

my $reason = star_digits($oauth->{error}{message});
$reason = substr($reason, 0, 125) . '...' if length $reason > 128;

response_is($r, 502, {
    error => 'delivery_failed',
    message => any_string,
    attempts => [ { channel => 'whatsapp', provider => 'wa',
                    error => 'auth_failed', provider_code => 190 } ],
}, 'OAuthException: 502 with the category and Meta\'s code, not its words');

$code = code_of($req // {});
push @codes, $code;

ok($code && index($r->{raw}, $code) < 0, 'OAuthException: no code in the 502');

is(scalar(grep { /\[warn\].*otp provider "wa" failed to deliver to \Q${\ mask('+15550310002')}\E via whatsapp: \Qauth_failed, HTTP 401, meta_whatsapp code 190: "\E${\ scrubbed($reason)}"/ }
          log_lines($t, qr/failed to deliver/)),
   1, 'OAuthException: logged once, with Meta\'s words');

# "(#131030) ..." : the prefix dropped

$mock->on(qr{/messages$} => { status => 400, body => {
    error => {
        message => '(#131030) Recipient phone number not in allowed list',
        type => 'OAuthException',
        code => 131030,
        error_data => {
            messaging_product => 'whatsapp',
            details => 'Recipient phone number not in allowed list: Add '
                       . 'recipient phone number to recipient list and try '
                       . 'again.',
        },
        fbtrace_id => 'A7kz9Q2bW4nXc1pLmT0vR3s',
    },
} });

($r, $req) = send_one({ phone => '+15550310003' });
push @codes, code_of($req // {});

is($r->{json} && $r->{json}{attempts}
   && "$r->{json}{attempts}[0]{error} $r->{json}{attempts}[0]{provider_code}",
   'rejected 131030', '(#131030): 502 rejected, with Meta\'s code');

is(scalar(grep { /via whatsapp: rejected, HTTP 400, meta_whatsapp code 131030: "Recipient phone number not in allowed list"/ }
          log_lines($t, qr/\Q${\ mask('+15550310003')}\E/)),
   1, '(#131030): logged with the message, its "(#...)" prefix dropped');

# a 200 without messages[0].id is no success

$mock->on(qr{/messages$} => { status => 200,
                               body => { messaging_product => 'whatsapp' } });

($r, $req) = send_one({ phone => '+15550310004' });
push @codes, code_of($req // {});

is($r->{status} . ' ' . ($r->{json} && $r->{json}{attempts}
                         ? $r->{json}{attempts}[0]{error} : ''),
   '502 bad_response', 'a 200 without a message id: 502 bad_response');

$mock->reset;

###############################################################################

$t->stop;

@codes = grep { defined } @codes;

my @leak = leaks($t, @codes);
ok(@codes >= 5 && !@leak, 'no code in error.log or access.log ('
   . scalar(@codes) . ' codes)') or diag(join "\n", @leak[0 .. ($#leak > 9 ? 9 : $#leak)]);

@leak = leaks($t, $TOKEN, $TOKEN2);
ok(!@leak, 'no token in error.log or access.log')
    or diag(join "\n", @leak[0 .. ($#leak > 9 ? 9 : $#leak)]);

$mock->stop;
$t->done;

###############################################################################
