#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# HELP over Meta's WhatsApp webhook: the call is answered 200 at once, and
# otp_help_text goes to the sender as a free-form WhatsApp text of its own
# (type "text", the JSON-escaped body, "to" the sender's digits), through
# the meta_whatsapp provider that received the call, exactly once per
# sender and call.  Nothing goes for another text, nor without
# otp_help_text; a reply that fails is logged (category, masked number)
# and changes nothing else; a slow one holds nothing up, nor a worker's
# exit.  HELP touches no store: one store is enough.  otp_help_text itself
# must be UTF-8 of 1600 characters at most.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use JSON::PP;
use Time::HiRes qw(time sleep);
use Digest::SHA qw(hmac_sha256_hex);
use OtpTest;
use MockProvider qw(mask log_lines);

###############################################################################

my $t = OtpTest->new;

$t->plan(28);

my $mock = MockProvider->new(dir => $t->dir);

my $APP_SECRET = 'meta-app-secret-0123456789abcdef';
my $APP_SECRET2 = 'meta-app-secret-fedcba9876543210';
my $PNID = '106540352242922';
my $PNID2 = '106540352249999';

# what nginx makes of the quoted string below: \" and \\ and \n unescaped
my $HELP = "Acme \"codes\" \\ help: reply STOP.\ncaf\xc3\xa9 \xe2\x9c\x93";
utf8::decode($HELP);

my $conf = <<'EOF';

%%GLOBALS%%
worker_processes 1;
worker_shutdown_timeout 1s;

events {
}

http {
    %%HTTP_GLOBALS%%

    %%STORE%%
    otp_secret_file %%SECRET%%;

    otp_provider wa meta_whatsapp phone_number_id=@PNID@
                 token=metatoken template=otp_login
                 app_secret=@APP_SECRET@ verify_token=vt base_url=@MOCK@;

    otp_provider wa2 meta_whatsapp phone_number_id=@PNID2@
                 token=metatoken2 template=otp_login
                 app_secret=@APP_SECRET2@ verify_token=vt base_url=@MOCK@;

    otp_route whatsapp default wa;

    server {
        listen 127.0.0.1:%%PORT%%;

        location = /hooks/meta {
            otp_webhook wa;
            otp_help_text "Acme \"codes\" \\ help: reply STOP.\ncafé ✓";
        }

        location = /hooks/meta-quiet {
            otp_webhook wa;
        }

        location = /hooks/meta2 {
            otp_webhook wa2;
            otp_help_text "Acme \"codes\" \\ help: reply STOP.\ncafé ✓";
        }
    }
}

EOF

my %subst = (MOCK => $mock->url, PNID => $PNID, PNID2 => $PNID2,
             APP_SECRET => $APP_SECRET, APP_SECRET2 => $APP_SECRET2);
$conf =~ s/@(\w+)@/$subst{$1}/g;

###############################################################################

my $seq = 0;

# a signed call with incoming texts ([from digits, text], ...)
sub meta_in {
    my ($path, $secret, @msgs) = @_;

    $t->uses_phone((map { "+$_->[0]" } @msgs), '+15550100011');

    my $body = JSON::PP->new->canonical->encode({
        object => 'whatsapp_business_account',
        entry => [ { id => '102290129340398', changes => [ {
            field => 'messages',
            value => {
                messaging_product => 'whatsapp',
                metadata => { phone_number_id => $PNID },
                contacts => [ map { { wa_id => $_->[0],
                                      profile => { name => 'Kerry' } } }
                              @msgs ],
                messages => [ map { { from => $_->[0],
                                      id => 'wamid.in' . ++$seq,
                                      timestamp => time, type => 'text',
                                      text => { body => $_->[1] } } }
                              @msgs ] } } ] } ] });

    return $t->post($path, 'application/json', $body,
                    headers => { 'X-Hub-Signature-256' =>
                                 'sha256=' . hmac_sha256_hex($body,
                                                             $secret) });
}

# the free-form texts Meta's mock received, to a number (digits) or all
sub texts {
    my ($pnid, $to) = @_;

    return grep {
        my $b = eval { JSON::PP->new->decode($_->{body}) } || {};
        ($b->{type} // '') eq 'text' && (!defined $to || $b->{to} eq $to)
    } $mock->requests(qr{^/v21\.0/$pnid/messages$});
}

# waits for the replies to a number (up to 5 s)
sub wait_texts {
    my ($pnid, $to, $n) = @_;

    my $deadline = time + 5;
    my @r;

    while (1) {
        @r = texts($pnid, $to);
        return @r if @r >= $n || time > $deadline;
        sleep 0.05;
    }
}

sub wait_log {
    my ($re) = @_;

    my $deadline = time + 5;
    my @l;

    while (1) {
        @l = log_lines($t, $re);
        return @l if @l || time > $deadline;
        sleep 0.05;
    }
}

###############################################################################

$t->write_config($conf, store => 'shm')->run;

# HELP: 200 at once, and one text with the help text

my $r = meta_in('/hooks/meta', $APP_SECRET, [ '15550100002', "  Help \n" ]);
ok($r->{status} == 200 && $r->{json} && $r->{json}{status} eq 'ok',
   'HELP: 200 {"status":"ok"}') or diag($r->{raw});

my ($req, @more) = wait_texts($PNID, '15550100002', 1);
ok($req && !@more, 'HELP: one request to Meta');
is($req && "$req->{method} $req->{path}", "POST /v21.0/$PNID/messages",
   'HELP: POST /v21.0/{phone_number_id}/messages');
is($req && $req->{headers}{authorization}, 'Bearer metatoken',
   'HELP: the receiving provider\'s token');
like($req && $req->{headers}{'content-type'},
     qr{^application/json(; ?charset=utf-8)?$}i, 'HELP: a JSON body');

my $body = $req && eval { JSON::PP->new->decode($req->{body}) };

is_deeply($body, {
    messaging_product => 'whatsapp',
    recipient_type => 'individual',
    to => '15550100002',
    type => 'text',
    text => { preview_url => JSON::PP::false, body => $HELP },
}, 'HELP: a text message with the help text, escaped, to the sender')
    or diag($req && $req->{body});

like($req && $req->{body},
     qr/^\{"messaging_product":"whatsapp","recipient_type":"individual",
        "to":"15550100002","type":"text","text":\{"preview_url":false,/x,
     'HELP: members in the documented order');

ok(wait_log(qr/\[info\].*otp provider "wa": HELP reply to /
            . qr/\Q${\ mask('+15550100002')}\E sent, .* message wamid\./),
   'HELP: the reply logged, the number masked');

# another text, and HELP where no otp_help_text is set: nothing; a HELP
# after them (the same worker, the same client) shows the mock is read late
# enough

$r = meta_in('/hooks/meta', $APP_SECRET, [ '15550100003', 'hello' ]);
is($r->{status}, 200, 'another text: 200');

$r = meta_in('/hooks/meta-quiet', $APP_SECRET, [ '15550100004', 'HELP' ]);
is($r->{status}, 200, 'HELP without otp_help_text: 200');

# two HELPs from one sender and one from another in a call: one each

$r = meta_in('/hooks/meta', $APP_SECRET, [ '15550100005', 'help' ],
             [ '15550100006', 'HELP' ], [ '15550100005', 'Help' ]);
is($r->{status}, 200, 'three HELPs in a call: 200');

wait_texts($PNID, '15550100006', 1);
my @five = wait_texts($PNID, '15550100005', 2);

is(scalar(texts($PNID, '15550100003')), 0, 'another text: no reply');
is(scalar(texts($PNID, '15550100004')), 0,
   'HELP without otp_help_text: no reply');
is(scalar(@five) . ' ' . scalar(texts($PNID, '15550100006')), '1 1',
   'three HELPs from two senders in a call: one reply each');

# through the provider that received the call

$r = meta_in('/hooks/meta2', $APP_SECRET2, [ '15550100007', 'help' ]);
($req) = wait_texts($PNID2, '15550100007', 1);
ok($r->{status} == 200 && $req
   && $req->{headers}{authorization} eq 'Bearer metatoken2',
   'HELP to wa2: the reply goes through wa2')
    or diag(explain($req));
is(scalar(texts($PNID, '15550100007')), 0, 'HELP to wa2: and not wa');

# a slow Meta holds no call up

$mock->on(qr{/messages$} => { body_like => qr/"to":"15550100008"/,
                              delay => 3 });

my $start = time;
$r = meta_in('/hooks/meta', $APP_SECRET, [ '15550100008', 'HELP' ]);
my $took = time - $start;

ok($r->{status} == 200 && $took < 1.5,
   'a slow Meta: the call is answered at once (' . sprintf('%.2f', $took)
   . ' s, Meta answers in 3 s)');
ok(scalar(wait_texts($PNID, '15550100008', 1)),
   'a slow Meta: the reply was sent');

# a reply Meta refuses: logged with its category, the number masked

$mock->on(qr{/messages$} => { body_like => qr/"to":"15550100009"/,
                              status => 401, body => { error => {
    message => 'Error validating access token',
    type => 'OAuthException', code => 190 } } });

$r = meta_in('/hooks/meta', $APP_SECRET, [ '15550100009', 'HELP' ]);
is($r->{status}, 200, 'a refused reply: the call is 200');

my @warn = wait_log(qr/failed to deliver to \Q${\ mask('+15550100009')}\E/);
ok(@warn == 1 && $warn[0] =~ /\[warn\].*otp provider "wa" failed to deliver/
   . qr/ to \S+ via whatsapp: auth_failed, HTTP 401, meta_whatsapp code 190/
   . qr/: "Error validating access token"/,
   'a refused reply: one [warn], its category, the number masked')
    or diag(explain(\@warn));

# and nothing else changed: the next HELP is answered

$r = meta_in('/hooks/meta', $APP_SECRET, [ '15550100010', 'HELP' ]);
ok($r->{status} == 200 && scalar(wait_texts($PNID, '15550100010', 1)),
   'after a refused reply, the next HELP is answered');

# unsigned: 403, nothing sent

$r = $t->post('/hooks/meta', 'application/json',
              '{"object":"whatsapp_business_account","entry":[{"changes":'
              . '[{"value":{"messages":[{"from":"15550100011","type":'
              . '"text","text":{"body":"HELP"}}]}}]}]}');
is($r->{status}, 403, 'an unsigned HELP: 403');

# the 3 s reply is answered by now; every text is accounted for

wait_texts($PNID, '15550100010', 1);
is(scalar(texts($PNID)) + scalar(texts($PNID2)), 7,
   'seven replies in all, none to the unsigned call');

# a reply in flight when the worker exits: aborted at the shutdown
# timeout, logged, and the exit not held for Meta's timeout

$mock->on(qr{/messages$} => { body_like => qr/"to":"15550100012"/,
                              hang => 1 });

$r = meta_in('/hooks/meta', $APP_SECRET, [ '15550100012', 'HELP' ]);
wait_texts($PNID, '15550100012', 1);

$start = time;
$t->stop;
$took = time - $start;

ok($r->{status} == 200 && $took < 8,
   'a reply in flight at exit: the worker exits within the shutdown '
   . 'timeout') or diag("stop took ${took}s");
is(scalar(log_lines($t, qr/\[warn\].*otp provider "wa" failed to deliver to /
                        . qr/\Q${\ mask('+15550100012')}\E via whatsapp: /
                        . qr/aborted/)),
   1, 'a reply in flight at exit: its abort logged once');

# otp_help_text is checked once, at configuration: UTF-8, 1600 characters
# (Twilio's most for a message) at most, in characters, not bytes

sub help_conf {
    my ($text) = @_;

    (my $c = $conf) =~ s/(wa2;\n\s+otp_help_text) "[^\n]*"/$1 "$text"/;
    return $t->check_config($c, store => 'shm');
}

like(help_conf("caf\xc3 help"),
     qr/\[emerg\].*"otp_help_text" directive is not valid UTF-8 text/,
     'otp_help_text: not UTF-8 is refused');
like(help_conf("\xc3\xa9" x 1601),
     qr/\[emerg\].*"otp_help_text" has 1601 characters; at most 1600 go in a/,
     'otp_help_text: 1601 characters are refused');
like(help_conf("\xc3\xa9" x 1600), qr/test is successful/,
     'otp_help_text: 1600 two-byte characters are taken');

$t->done;

###############################################################################
