#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# The outcome variables and the metrics at their edges: a client that
# leaves while its send is with a provider is logged as client_closed (with
# nginx's 499) and counted; a Meta call whose STOPs are followed by a
# message passed on by otp_webhook_forward (an internal redirect) keeps its
# opted_out audit line, and each STOP of it is counted, a START from a
# number never listed is not; a status report for a message nobody knows
# names that message, not the previous one of the call; a send that failed
# on every provider names the last one asked, not one skipped over its
# budget; a provider over budget has no budget_exhausted send series; and a
# location takes one content handler (otp_metrics with otp_send, otp_send
# with proxy_pass are refused), which its limit_except block runs too.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use JSON::PP;
use IO::Socket::INET;
use Digest::SHA qw(hmac_sha1_base64 hmac_sha256_hex);
use Time::HiRes qw(time sleep);
use OtpTest;
use MockProvider qw(drop_log_lines);

###############################################################################

my $t = OtpTest->new;

my $mock = MockProvider->new(dir => $t->dir);

my $AC = 'ACe1d9e5a6b7c8d9e0f1a2b3c4d5e6f708';
my $AC1 = 'ACe1d9e5a6b7c8d9e0f1a2b3c4d5e6f701';
my $AC2 = 'ACe1d9e5a6b7c8d9e0f1a2b3c4d5e6f702';
my $TOKEN = 'edgetoken0123456789abcdef01234567';
my $APP_SECRET = 'meta-app-secret-edge-0123456789ab';
my $PUBLIC = 'https://otp.example';

# the audit log of conf-examples/audit-log.conf, as it is written there
my ($format, $audit) = OtpTest::audit_example();

my $conf = <<'EOF';

%%GLOBALS%%
worker_processes 1;

events {
}

http {
    %%HTTP_GLOBALS%%

    %%STORE%%
    otp_secret_file %%SECRET%%;
    otp_public_url @PUBLIC@;

    otp_provider tw twilio account_sid=@AC@ auth_token=@TOKEN@
                 from=+15005550006 base_url=@MOCK@;
    otp_provider first twilio account_sid=@AC1@ auth_token=@TOKEN@
                 from=+15005550006 base_url=@MOCK@;
    otp_provider capped twilio account_sid=@AC2@ auth_token=@TOKEN@
                 from=+15005550006 base_url=@MOCK@ budget=1/h;
    otp_provider wa meta_whatsapp phone_number_id=106540352242922
                 token=metatoken template=otp_login
                 app_secret=@APP_SECRET@ verify_token=vt base_url=@MOCK@;

    otp_route sms default tw;
    otp_route sms +1555072 first capped;
    otp_route whatsapp default wa;

    @FORMAT@

    server {
        listen 127.0.0.1:%%PORT%%;

        @AUDIT@

        otp_client_limit off;
        otp_resend_after 0s;

        location = /otp/send {
            otp_send;
        }

        location = /hooks/twilio {
            otp_webhook tw;
        }

        location /otp/status/ {
            otp_status;
        }

        location = /otp/send-limited {
            limit_except GET {
                allow 127.0.0.1;
                deny all;
            }

            otp_send;
        }

        location = /hooks/meta {
            otp_webhook wa;
            otp_webhook_forward /app/replies;
        }

        location /app/ {
            internal;
            proxy_pass @MOCK@;
        }

        location = /metrics {
            otp_metrics;
        }
    }
}

EOF

my %subst = (AC => $AC, AC1 => $AC1, AC2 => $AC2, TOKEN => $TOKEN,
             APP_SECRET => $APP_SECRET, PUBLIC => $PUBLIC,
             MOCK => $mock->url, FORMAT => $format, AUDIT => $audit);
$conf =~ s/@(\w+)@/$subst{$1}/g;

$t->plan(25);

###############################################################################

# one content handler per location, checked by nginx -t

(my $both = $conf) =~ s{(location = /metrics \{\s*otp_metrics;)}{$1 otp_send;};
like($t->check_config($both),
     qr/"otp_send" directive conflicts with another content handler/,
     'otp_metrics then otp_send in one location: refused');

(my $proxied = $conf) =~ s{(location = /otp/send \{)}
                          {$1 proxy_pass http://127.0.0.1:1;};
like($t->check_config($proxied),
     qr/"otp_send" directive conflicts with another content handler/,
     'proxy_pass then otp_send in one location: refused');

# its budget=N/h sends in one clock hour
OtpTest::clear_of_the_hour();

$t->write_config($conf)->run;

# a POST through limit_except's block runs the location's handler (the
# block's configuration had none: 404)

is($t->post_form('/otp/send-limited', { phone => '+15550710901' })->{status},
   202, 'otp_send under limit_except: the POST is a send');

###############################################################################

sub esc {
    my ($s) = @_;
    $s =~ s/([^A-Za-z0-9\-._~])/sprintf('%%%02X', ord $1)/ge;
    return $s;
}

sub twilio {
    my (%p) = @_;

    my $sig = hmac_sha1_base64("$PUBLIC/hooks/twilio"
                               . join('', map { $_ . $p{$_} } sort keys %p),
                               $TOKEN);
    $sig .= '=' while length($sig) % 4;

    return $t->post('/hooks/twilio', 'application/x-www-form-urlencoded',
                    join('&', map { esc($_) . '=' . esc($p{$_}) }
                              sort keys %p),
                    headers => { 'X-Twilio-Signature' => $sig });
}

my $seq = 0;

# one Meta call carrying several incoming messages: [from, text], ...
sub meta_in {
    my (@msgs) = @_;

    my $body = JSON::PP->new->canonical->encode({
        object => 'whatsapp_business_account',
        entry => [ { id => '102290129340398', changes => [ {
            field => 'messages',
            value => {
                messaging_product => 'whatsapp',
                metadata => { phone_number_id => '106540352242922' },
                contacts => [ map { { wa_id => $_->[0],
                                      profile => { name => 'K' } } } @msgs ],
                messages => [ map { { from => $_->[0],
                                      id => 'wamid.edge' . ++$seq,
                                      timestamp => int(time), type => 'text',
                                      text => { body => $_->[1] } } }
                              @msgs ] } } ] } ] });

    return $t->post('/hooks/meta', 'application/json', $body,
                    headers => { 'X-Hub-Signature-256' =>
                                 'sha256=' . hmac_sha256_hex($body,
                                                             $APP_SECRET) });
}

sub scrape {
    my $body = $t->get('/metrics')->{body} // '';
    my %v;
    for (split /\n/, $body) {
        next if /^#/;
        $v{$1} = $2 if /^(\S+) (\S+)$/;
    }
    return \%v;
}

sub audit {
    my ($n) = @_;
    my @lines;
    my $deadline = time + 5;
    while (time < $deadline) {
        @lines = grep { length } split /\n/, $t->read_file('audit.log') // '';
        last if @lines >= $n;
        sleep 0.1;
    }
    return map { my $j = eval { decode_json($_) }; $j // { bad => $_ } }
           @lines;
}

my $lines = 1;    # the limit_except send

###############################################################################

# a client that leaves while the provider takes its time

$mock->on(qr{/Accounts/$AC/Messages\.json$}, { delay => 1.5 });

my $before = scrape();
my $body = 'phone=%2B15550710101';
my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $t->port('PORT'))
    or die $!;
print $s "POST /otp/send HTTP/1.1\r\nHost: localhost\r\n"
    . "Content-Type: application/x-www-form-urlencoded\r\n"
    . "Content-Length: " . length($body) . "\r\n\r\n$body";
$mock->wait_requests(1, qr{Messages\.json$}, 5);
close $s;

my @a = audit(++$lines);
is(($a[-1] // {})->{result}, 'client_closed', 'a client that left: client_closed');
is(($a[-1] // {})->{status}, 499, 'a client that left: logged with 499');

my $after = scrape();
is(($after->{'otp_send_requests_total{result="client_closed"}'} // 0)
   - ($before->{'otp_send_requests_total{result="client_closed"}'} // 0), 1,
   'a client that left: counted as client_closed');

$mock->on(qr{/Accounts/$AC/Messages\.json$}, {});
sleep 1.6;

# STOP, STOP and a message to pass on, in one Meta call

$mock->on(qr{^/app/replies}, { status => 200, body => 'thanks' });

$before = scrape();
my $r = meta_in(['15550710201', 'STOP'], ['15550710202', 'stop'],
                ['15550710203', 'see you']);
is($r->{status}, 200, 'meta: two STOPs and a reply in one call');

my @fw = $mock->requests(qr{^/app/replies});
is(scalar @fw, 1, 'meta: the reply was passed on (an internal redirect)');

@a = audit(++$lines);
is(($a[-1] // {})->{result}, 'opted_out',
   'meta: the call keeps its opted_out line across the redirect');
like(($a[-1] // {})->{phone} // '', qr/^\+1\*+0202$/,
     'meta: the line names the last STOP, masked')
    or diag(explain($a[-1]));

$after = scrape();
is(($after->{'otp_optout_changes_total{action="stop"}'} // 0)
   - ($before->{'otp_optout_changes_total{action="stop"}'} // 0), 2,
   'meta: each STOP of the call counted');

# START from a number never listed changes nothing: not counted

$before = scrape();
$r = meta_in(['15550710204', 'START']);
@a = audit(++$lines);
is(($a[-1] // {})->{result}, 'opted_in', 'START from a number not listed: opted_in');
$after = scrape();
is(($after->{'otp_optout_changes_total{action="start"}'} // 0)
   - ($before->{'otp_optout_changes_total{action="start"}'} // 0), 0,
   'START from a number not listed: no change counted');

# a status report for no message of ours names its own id

$r = $t->post_form('/otp/send', { phone => '+15550710301' });
my $sid = $r->{json} ? $r->{json}{message_id} : '';
is($r->{status}, 202, 'a send');
twilio(MessageSid => $sid, MessageStatus => 'delivered', AccountSid => $AC);
my $unknown = 'SM' . ('7' x 32);
twilio(MessageSid => $unknown, MessageStatus => 'delivered',
       AccountSid => $AC);
$lines += 3;
@a = audit($lines);
is(($a[-2] // {})->{message_id}, $sid, 'status: the known message');
ok(($a[-1] // {})->{result} eq 'status_unknown' && ($a[-1] // {})->{message_id} eq $unknown
   && !exists(($a[-1] // {})->{channel}),
   'status_unknown: its own message id, no channel')
    or diag(explain($a[-1]));

# a chain whose last provider is over its budget: the failure names the
# last one asked

$mock->on(qr{/Accounts/$AC1/Messages\.json$},
          { status => 500, body => { code => 20500, message => 'down' } });

$r = $t->post_form('/otp/send', { phone => '+15550720001' });
is($r->{status}, 202, 'chain: the capped provider takes the first send');

$r = $t->post_form('/otp/send', { phone => '+15550720002' });
my @att = map { "$_->{provider}:$_->{error}" }
          @{ ($r->{json} // {})->{attempts} // [] };
is("$r->{status} @att", '502 first:unavailable capped:budget_exhausted',
   'chain: the second fails on both');

$lines += 2;
@a = audit($lines);
ok(($a[-1] // {})->{result} eq 'delivery_failed' && ($a[-1] // {})->{provider} eq 'first',
   'delivery_failed names the last provider asked, not the one skipped')
    or diag(explain($a[-1]));

my $m = scrape();
ok(!grep(/result="budget_exhausted"/, keys %$m),
   'no otp_provider_sends_total series for budget_exhausted');
is($m->{'otp_provider_budget_checks_total{provider="capped",result="over"}'},
   1,
   'the skipped send is the budget checks\' "over"')
    or diag(explain([grep /budget/, keys %$m]));

###############################################################################

# a worker killed while it holds a long-poll: the gauge does not keep it

$r = $t->post_form('/otp/send', { phone => '+15550710401' });
my $wsid = $r->{json} ? $r->{json}{message_id} : 'none';
my $held = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $t->port('PORT'))
    or die $!;
print $held "GET /otp/status/$wsid?wait=30 HTTP/1.1\r\nHost: localhost\r\n\r\n";

my $deadline = time + 5;
sleep 0.05 while time < $deadline
                 && (scrape()->{otp_longpolls_held} // 0) < 1;
is(scrape()->{otp_longpolls_held}, 1, 'a long-poll held: the gauge is 1');

my @before_kill = $t->worker_pids;
kill 'KILL', @before_kill;

$deadline = time + 5;
my @after_kill;
while (time < $deadline) {
    @after_kill = grep { my $p = $_; !grep { $_ == $p } @before_kill }
                  $t->worker_pids;
    last if @after_kill && $t->get('/metrics')->{status} == 200;
    sleep 0.05;
}
close $held;

is(scrape()->{otp_longpolls_held}, 0,
   'its worker killed: the new worker\'s gauge is 0, not 1');

is(drop_log_lines($t, qr/\[alert\].*exited on signal 9/), 1,
   'the killed worker\'s [alert], expected');

# the budget's [alert], expected: once
is(drop_log_lines($t, qr/\[alert\].*otp provider "capped" spent its budget/),
   1, 'the budget [alert], once');

$mock->stop;
$t->done;
