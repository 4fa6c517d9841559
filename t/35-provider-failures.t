#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# A provider that fails in any way a network and a server can fail ends a
# send in 502 delivery_failed with a fixed category (never curl's or the
# provider's words, which name internal addresses and may quote the code),
# logged once as a warning with those words, and never hurts the worker:
# malformed JSON, a 1 MB answer, a refused connection, a connection closed
# without an answer, bytes that are not HTTP, TLS spoken to a plain-HTTP
# server, and a provider that never answers (timeout=2s).  A proxy that
# refuses a voice call and quotes its TwiML back, code and all: the 502
# holds the category and Twilio's code only, and the log line the text
# with every digit of the code starred.  After each, a plain location answers from the
# same worker (no crash, no respawn), nothing is logged at [alert] or
# [crit] (the implicit check), and a healthy provider works again.  Then:
# a pooled connection the provider closed while idle is not reused, a
# client that goes away mid-send hurts nothing, and a graceful stop lets a
# send waiting on the provider finish with its 202.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use POSIX ();
use Time::HiRes qw(sleep);
use OtpTest;
use MockProvider qw(mask scrubbed log_lines leaks form_hash);

###############################################################################

my $t = OtpTest->new;

$t->plan(40);

my $mock = MockProvider->new(dir => $t->dir);

my $AC = 'AC35353535353535353535353535353535';

# a port nobody listens on
my $closed = $t->port('CLOSED');

my $conf = <<'EOF';

%%GLOBALS%%
worker_processes 1;

events {
}

http {
    %%HTTP_GLOBALS%%

    %%STORE%%
    otp_secret_file %%SECRET%%;

    otp_provider tw twilio account_sid=@AC@ auth_token=failurestoken
                 from=+15005550006 base_url=@MOCK@ timeout=2s;

    otp_provider tw_refused twilio account_sid=@AC@ auth_token=failurestoken
                 from=+15005550006 base_url=http://127.0.0.1:@CLOSED@;

    otp_provider tw_tls twilio account_sid=@AC@ auth_token=failurestoken
                 from=+15005550006 base_url=@MOCK_TLS@;

    otp_provider tw_voice twilio account_sid=@AC@ auth_token=failurestoken
                 voice_from=+15005550006 base_url=@MOCK@;

    otp_route sms +1555051 tw_refused;
    otp_route sms +1555052 tw_tls;
    otp_route sms default tw;

    server {
        listen 127.0.0.1:%%PORT%%;

        otp_client_limit off;

        location = /otp/send {
            otp_send;
        }

        location = /otp/send/voice {
            otp_send;
            otp_channels voice;
        }

        location = /plain {
            return 200 "ok\n";
        }
    }
}

EOF

my $tls = $mock->url;
$tls =~ s{^http://}{https://};

my %subst = (MOCK => $mock->url, MOCK_TLS => $tls, AC => $AC,
             CLOSED => $closed);
$conf =~ s/@(\w+)@/$subst{$1}/g;

$t->write_config($conf)->run;

my @workers = $t->worker_pids;

###############################################################################

my @codes;

# one failure: the 502 with its category alone, the one warning with the
# words behind it, and the worker still serving
sub fails {
    my ($phone, $provider, $category, $words, $name) = @_;

    local $Test::Builder::Level = $Test::Builder::Level + 1;

    my $before = scalar $mock->requests;
    my $r = $t->post_form('/otp/send', { phone => $phone }, timeout => 15);
    my @req = $mock->requests;

    for my $q (@req[$before .. $#req]) {
        my %f = eval { form_hash($q->{body}) };
        push @codes, $1 if ($f{Body} // '') =~ /\b(\d{6})\b/;
    }

    my $got = $r->{json} && ref $r->{json}{attempts} eq 'ARRAY'
              && $r->{json}{attempts}[0] ? $r->{json}{attempts}[0] : {};

    my $ok = response_is($r, 502, {
        error => 'delivery_failed',
        message => any_string,
        attempts => [ { channel => 'sms', provider => $provider,
                        error => $category } ],
    }, "$name: 502 delivery_failed, $category");

    diag("category: " . ($got->{error} // 'none')) unless $ok;

    # curl names the provider's address; a provider its own words
    ok($r->{body} !~ /127\.0\.0\.1|port|HTTP|$closed|[Ff]ailed to|ms:/,
       "$name: no curl or provider words in the 502");

    my $m = mask($phone);
    my @warn = grep { /\[warn\]/ } log_lines($t, qr/\Q$m\E/);

    is(scalar(grep { /otp provider "\Q$provider\E" failed to deliver to \Q$m\E via sms: \Q$category\E\b.*$words/ }
              @warn),
       1, "$name: logged once as a warning, with the words behind it")
        or diag(join "\n", log_lines($t, qr/\Q$m\E/));

    my $p = $t->get('/plain');
    is("$p->{status} $p->{body}", "200 ok\n", "$name: the worker serves");
}

###############################################################################

$mock->on(qr/Messages/ => { malformed_json => 1 });
fails('+15550500001', 'tw', 'bad_response', qr/, HTTP 201: "\{"sid": "SM/,
      'malformed JSON');

$mock->on(qr/Messages/ => { huge => 1024 * 1024 });
fails('+15550500002', 'tw', 'bad_response', qr/, HTTP 201: "\{"sid":"SM/,
      '1 MB answer');

fails('+15550510003', 'tw_refused', 'connect_failed',
      qr/: "Failed to connect to [\d*.]+ port ${\ scrubbed($closed)} after [\d*]+ ms: (Connection refused|Couldn't connect to server)"/,
      'connection refused');

$mock->on(qr/Messages/ => { close => 1 });
fails('+15550500004', 'tw', 'bad_response', qr/: "Empty reply from server"/,
      'closed without an answer');

$mock->on(qr/Messages/ => { garbage => 1 });
fails('+15550500005', 'tw', 'bad_response',
      qr/: "Received HTTP\/0\.9 when not allowed"/, 'garbage bytes');

fails('+15550520006', 'tw_tls', 'tls_failed',
      qr/: ".*(SSL|TLS).*wrong version number/,
      'TLS to a plain-HTTP server');

is(scalar(grep { $_->{method} eq 'TLS' } $mock->requests), 1,
   'TLS: the ClientHello reached the mock');

$mock->on(qr/Messages/ => { hang => 1 });
fails('+15550500007', 'tw', 'timeout',
      qr/: "Operation timed out after [2*][\d*]{3} milliseconds with [0*] bytes received"/,
      'no answer (timeout=2s)');

# a proxy refuses the voice call and quotes the TwiML back, code and all

$mock->on(qr/Calls/ => { status => 400, quote => 'Twiml', body =>
    '{"code": 21211, "message": "Invalid parameter Twiml: {Twiml}", '
    . '"more_info": "https://www.twilio.com/docs/errors/21211", '
    . '"status": 400}' });

my $before = scalar $mock->requests(qr/Calls/);
my $r = $t->post_form('/otp/send/voice', { phone => '+15550530008' });
my @calls = ($mock->requests(qr/Calls/))[$before .. $before + 0];
my %call = eval { form_hash($calls[0]{body} // '') };
my ($spoken) = ($call{Twiml} // '') =~ /is (\d(?:, \d){5})\./;
(my $code = $spoken // '') =~ s/\D//g;
push @codes, $code;

like(($calls[0] || {})->{answer}{body} // '', qr/Twiml: <Response><Say[^>]*>Your verification code is \Q$spoken\E\./,
     'quoted TwiML: the mock quoted the code back, as the voice says it');

response_is($r, 502, {
    error => 'delivery_failed',
    message => any_string,
    attempts => [ { channel => 'voice', provider => 'tw_voice',
                    error => 'rejected', provider_code => 21211 } ],
}, 'quoted TwiML: 502 with the category and Twilio\'s code alone');

# the code in any spelling: its digits, whatever lies between them
my $digits = join '\D*', split //, $code;
ok(length $code == 6 && $r->{body} !~ /$digits/,
   'quoted TwiML: the 502 spells the code in no way');

my @quoted = grep { /\[warn\].*otp provider "tw_voice" failed to deliver to \Q${\ mask('+15550530008')}\E via voice: rejected, HTTP 400, twilio code 21211: "Invalid parameter Twiml: <Response><Say language="en-US">Your verification code is \*, \*, \*, \*, \*, \*\./ }
             log_lines($t, qr/failed to deliver/);
is(scalar @quoted, 1,
   'quoted TwiML: logged once, the text kept, every digit of the code starred')
    or diag(join "\n", log_lines($t, qr/\Q${\ mask('+15550530008')}\E/));
ok(@quoted && $quoted[0] !~ /$digits/,
   'quoted TwiML: the log line spells the code in no way');

$mock->reset;

# a healthy provider again

$mock->reset;

$r = $t->post_form('/otp/send', { phone => '+15550500008' });
is($r->{status} . ' ' . ($r->{json} ? $r->{json}{provider} // '' : ''),
   '202 tw', 'after all that, a send goes through');

# a kept-alive connection that the provider closed while it was idle is
# not used again: the next send connects afresh

$mock->on(qr/Messages/ => { keepalive => 0.3 });

my @ok = ($t->post_form('/otp/send', { phone => '+15550500009' }));
sleep 1;
push @ok, $t->post_form('/otp/send', { phone => '+15550500010' });

my @conns = map { $_->{conn} } ($mock->requests(qr/Messages/))[-2, -1];

is(join(' ', map { $_->{status} } @ok) . ($conns[0] != $conns[1] ? ', two connections' : ''),
   '202 202, two connections',
   'an idle connection the provider closed: the next send connects afresh');

# a client that goes away while its send waits on the provider: whether
# the send is cancelled or completes into a closed connection, the worker
# carries on

$mock->on(qr/Messages/ => { delay => 1.5 });

my $n = scalar $mock->requests(qr/Messages/);
my $gone = $t->post_form('/otp/send', { phone => '+15550500011' },
                         timeout => 0.5);
$mock->wait_requests($n + 1, qr/Messages/, 2);
sleep 2;

my $p = $t->get('/plain');
is("$gone->{status} $p->{status}", '0 200',
   'a client gone while the provider is slow: the worker serves on');

$mock->reset;

is(join(' ', $t->worker_pids), join(' ', @workers),
   'the worker is the one started, never replaced');

# a graceful stop while a send waits on the provider: the send is answered
# (202), and nothing is logged at [alert] (the final check)

$mock->on(qr/Messages/ => { delay => 1.5 });

pipe(my $res_r, my $res_w) or die "pipe: $!";

my $kid = fork() // die "fork: $!";

if ($kid == 0) {
    close $res_r;
    my $r = $t->post_form('/otp/send', { phone => '+15550500012' },
                          timeout => 10);
    syswrite $res_w, "$r->{status}\n";
    POSIX::_exit(0);
}

close $res_w;
$t->uses_phone('+15550500012');

$before = scalar $mock->requests(qr/Messages/);
$mock->wait_requests($before + 1, qr/Messages/, 3);

$t->stop;

my $status = <$res_r> // 'none';
chomp $status;
waitpid($kid, 0);

is($status, '202', 'a graceful stop while a send waits: the send is answered');

$mock->reset;

for my $q ($mock->requests(qr/Messages/)) {
    my %f = eval { form_hash($q->{body}) };
    push @codes, $1 if ($f{Body} // '') =~ /\b(\d{6})\b/;
}

###############################################################################

$t->stop;

my @leak = leaks($t, @codes);
ok(@codes >= 5 && !@leak, 'no code in error.log or access.log ('
   . scalar(@codes) . ' codes)') or diag(join "\n", @leak[0 .. ($#leak > 9 ? 9 : $#leak)]);

$mock->stop;
$t->done;

###############################################################################
