#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# otp_alert: a provider whose failure rate over the window reaches the
# threshold, with at least min attempts, fires exactly one [alert] line
# per series (the provider's and its channel's) across two workers, sets
# otp_alert_firing to 1 in the metrics and POSTs a Standard Webhooks-
# signed otp.alert.firing to the webhook, whose signature the receiver
# here verifies; fewer than min attempts fire nothing; more failures
# while firing log nothing more; a rate under the threshold but not
# under recover= keeps it firing; successes that bring the rate under
# recover= resolve it: one line per series, the gauge 0, a signed
# otp.alert.resolved.  A reload keeps the state (no second firing).  A
# receiver that answers 500 gets the POST again a second later, same
# webhook-id and body, signed anew, and no more once it answers 200; one
# that answers 400 is not asked again.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Digest::SHA qw(hmac_sha256_base64);
use MIME::Base64 qw(decode_base64 encode_base64);
use JSON::PP;
use Time::HiRes qw(time sleep);
use OtpTest;
use MockProvider qw(log_lines drop_log_lines);

###############################################################################

my $t = OtpTest->new;

my $mock = MockProvider->new(dir => $t->dir);
my $recv = MockProvider->new(dir => $t->dir);

my $AC = 'ACa1b2c3d4e5f60718293a4b5c6d7e8f90';
my $TOKEN = 'tok1c0ffee5ecret0ddba11deadbeefab';
my $SECRET = 'whsec_' . encode_base64('alert-receiver-key-0123456789ab', '');

$t->write_file('alert.secret', "$SECRET\n");
chmod 0600, $t->dir . '/alert.secret';

my $conf = <<'EOF';

%%GLOBALS%%
worker_processes 2;

events {
}

http {
    %%HTTP_GLOBALS%%

    %%STORE%%
    otp_secret_file %%SECRET%%;
    otp_provider tw twilio account_sid=@AC@ auth_token=@TOKEN@
                 from=+15005550006 base_url=@MOCK@;
    otp_public_url https://otp.example;

    otp_alert window=60s threshold=50% min=4
              webhook=@RECV@/alert secret_file=@DIR@/alert.secret;

    server {
        listen 127.0.0.1:%%PORT%% reuseport;

        otp_client_limit off;
        otp_resend_after 0s;

        location = /otp/send {
            otp_send;
        }

        location = /metrics {
            otp_metrics;
        }
    }
}

EOF

my %subst = (AC => $AC, TOKEN => $TOKEN, MOCK => $mock->url,
             RECV => $recv->url, DIR => $t->dir);
$conf =~ s/@(AC|TOKEN|MOCK|RECV|DIR)@/$subst{$1}/g;

$t->plan(77);

$recv->on(qr{^/alert} => { status => 200, body => { ok => 1 } });

# what the configuration refuses

$t->write_file('bad.secret', "not-a-whsec-secret!\n");
chmod 0600, $t->dir . '/bad.secret';

sub refused {
    my ($alert, $location, $want, $name) = @_;

    (my $c = $conf) =~ s/^    otp_alert .*?;\n/    $alert\n/ms;
    $c =~ s/(location = \/metrics \{)/$location\n\n        $1/;

    like($t->check_config($c), $want, $name);
}

refused('otp_alert threshold=0%;', '', qr/invalid "threshold=0%"/,
        'threshold 0% refused');
refused('otp_alert threshold=20;', '', qr/invalid "threshold=20"/,
        'a threshold without % refused');
refused('otp_alert window=2d;', '', qr/invalid "window=2d"/,
        'a window over a day refused');
refused('otp_alert min=0;', '', qr/invalid "min=0"/, 'min=0 refused');
refused('otp_alert recover=0%;', '', qr/invalid "recover=0%"/,
        'recover=0% refused (it would never resolve)');
refused('otp_alert threshold=20% recover=30%;', '',
        qr/has "recover=" above "threshold="/,
        'recover= above the threshold refused');
refused("otp_alert webhook=${\ $recv->url}/alert;", '',
        qr/needs both "webhook=" and "secret_file="/,
        'a webhook without its secret refused');
refused("otp_alert webhook=${\ $recv->url}/alert secret_file=${\ $t->dir}/bad.secret;",
        '', qr/holds no Standard Webhooks secret/,
        'a secret file without a whsec_ secret refused');
refused('otp_alert; otp_alert;', '', qr/"otp_alert" directive is duplicate/,
        'otp_alert twice refused');
refused('otp_alert;', 'location = /h { otp_health; otp_send; }',
        qr/conflicts with another content handler/,
        'otp_health with otp_send refused');

$t->write_config($conf)->run;

###############################################################################

my $n = 0;

sub send_one {
    my $phone = sprintf '+1555076%04d', ++$n;
    $t->uses_phone($phone);
    return $t->post_form('/otp/send', { phone => $phone })->{status};
}

sub gauge {
    my ($kind, $name) = @_;
    my $body = $t->get('/metrics')->{body} // '';
    my ($v) = $body =~ /^otp_alert_firing\{kind="$kind",name="$name"\} (\d+)$/m;
    return $v;
}

sub alert_lines {
    my ($what) = @_;
    return scalar log_lines($t, qr/\[alert\].*otp alert $what: /);
}

# the lines once there are $want of them (a coarse bound: 5 s)
sub wait_lines {
    my ($what, $want) = @_;
    my $deadline = time + 5;
    my $got;

    while (1) {
        $got = alert_lines($what);
        return $got if $got >= $want || time > $deadline;
        sleep 0.05;
    }
}

# a POST the receiver got, its signature checked as a receiver checks it
sub verified {
    my ($r) = @_;

    my $id = $r->{headers}{'webhook-id'} // '';
    my $ts = $r->{headers}{'webhook-timestamp'} // '';
    my $sig = $r->{headers}{'webhook-signature'} // '';

    (my $key = $SECRET) =~ s/^whsec_//;
    my $mac = hmac_sha256_base64("$id.$ts.$r->{body}", decode_base64($key));
    $mac .= '=' while length($mac) % 4;

    return $id =~ /^msg_[0-9a-f]{32}$/ && abs($ts - time) < 60
           && $sig eq "v1,$mac";
}

sub posts {
    my ($type, $want) = @_;
    my @r = $recv->wait_requests($want, qr{^/alert});
    return grep {
        my $j = eval { decode_json($_->{body}) };
        $j && $j->{type} eq $type;
    } @r;
}

###############################################################################

is(gauge('provider', 'tw'), 0, 'gauge 0 at the start');

$mock->on(qr{/Messages\.json$} => { status => 500,
                                    body => { message => 'down' } });

# three failures: 100%, but under min=4

is(send_one(), 502, 'a failed send') for 1 .. 3;

sleep 0.3;
is(alert_lines('firing'), 0, 'under min attempts: no alert');
is(gauge('provider', 'tw'), 0, 'under min attempts: gauge 0');
is(scalar $recv->requests(qr{^/alert}), 0, 'under min attempts: no POST');

# the fourth fires: the provider's series and its channel's

is(send_one(), 502, 'the fourth failure');

is(wait_lines('firing', 2), 2, 'two [alert] lines: provider and channel');
is(scalar log_lines($t, qr/\[alert\].*otp alert firing: provider "tw" failure rate 100\.00% \(4 failed of 4 in 60s\), threshold 50\.00%, recover 37\.50%/),
   1, 'the provider\'s line, with its figures');
is(scalar log_lines($t, qr/\[alert\].*otp alert firing: channel "sms"/),
   1, 'the channel\'s line');
is(gauge('provider', 'tw'), 1, 'gauge 1: provider');
is(gauge('channel', 'sms'), 1, 'gauge 1: channel');
is(gauge('channel', 'voice'), 0, 'gauge 0: another channel');

my @fired = posts('otp.alert.firing', 2);
is(scalar @fired, 2, 'two firing POSTs');
is(scalar(grep { verified($_) } @fired), 2, 'both signed, verified');

my ($pj) = grep { $_->{data}{kind} eq 'provider' }
           map { decode_json($_->{body}) } @fired;
is_deeply($pj && $pj->{data},
          { kind => 'provider', name => 'tw', failure_rate => 100,
            failures => 4, attempts => 4, window_s => 60, threshold => 50,
            recover => 37.5 },
          'the provider\'s figures in the POST');
like($pj && $pj->{timestamp}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/,
     'an RFC 3339 timestamp');

# more failures while it fires: nothing more, from either worker

is(send_one(), 502, 'more failures') for 1 .. 2;
sleep 0.5;
is(alert_lines('firing'), 2, 'still two lines');
is(scalar $recv->requests(qr{^/alert}), 2, 'still two POSTs');

# a reload of the same configuration keeps the state

$t->reload;
is(send_one(), 502, 'a failure after a reload');
sleep 0.5;
is(alert_lines('firing'), 2, 'after a reload: no second firing');

# 7 failures so far: 7 successes make 50%, still over

$mock->reset;

is(send_one(), 202, 'a success') for 1 .. 7;
sleep 0.3;
is(alert_lines('resolved'), 0, '7 of 14 failed: still firing (50%)');

# under the threshold, not yet under recover= (three quarters of it by
# default): a rate that wavers about the threshold neither resolves nor
# fires again at every other outcome

is(send_one(), 202, 'an eighth success');
sleep 0.3;
is(alert_lines('resolved'), 0,
   '7 of 15 failed (46.67%): under 50%, over 37.5%: still firing');
is(gauge('provider', 'tw'), 1, 'the gauge says so');

# a reload that changes the layout (another window): the window starts
# empty, the alerts' states are carried over

(my $conf2 = $conf) =~ s/window=60s/window=30s/;
$t->write_config($conf2);
$t->reload;

is(scalar log_lines($t, qr/\[notice\].*otp outcomes: the series changed with the configuration: \d+ of them carried over, their alerts' states only/),
   1, 'another layout: said at notice');
is(gauge('provider', 'tw'), 1, 'another layout: still firing');

# recovery in the new window: under min attempts, nothing; at min, with
# no failure, resolved

is(send_one(), 202, 'a success in the new window') for 1 .. 3;
sleep 0.3;
is(alert_lines('resolved'), 0, 'under min attempts: still firing');
is(alert_lines('firing'), 2, 'and not fired again');

is(send_one(), 202, 'the fourth success');
is(wait_lines('resolved', 2), 2, 'one resolved line per series');
is(gauge('provider', 'tw'), 0, 'gauge 0 again');
is(scalar log_lines($t, qr/\[alert\].*otp alert resolved: provider "tw" failure rate 0\.00% \(0 failed of 4 in 30s\), threshold 50\.00%/),
   1, 'the resolved line, with its figures');

my @resolved = posts('otp.alert.resolved', 4);
is(scalar(grep { verified($_) } @resolved), 2,
   'two resolved POSTs, signed');

# it fires again; a receiver that fails gets each POST again, with the
# same webhook-id and body, newly signed, after 1 s

$recv->on(qr{^/alert} => { status => 500, body => { error => 'down' } });
$mock->on(qr{/Messages\.json$} => { status => 500,
                                    body => { message => 'down' } });

is(send_one(), 502, 'failures again') for 1 .. 4;
is(wait_lines('firing', 4), 4, '4 of 8 failed: fired again, once a series');
is(gauge('provider', 'tw'), 1, 'gauge 1 again');

my @first = $recv->wait_requests(6, qr{^/alert});

my $deadline = time + 5;
sleep 0.05 while time < $deadline
    && log_lines($t, qr/\[error\].*otp alert: webhook msg_\w+ answered HTTP 500/) < 2;
is(scalar log_lines($t, qr/\[error\].*otp alert: webhook msg_\w+ answered HTTP 500/),
   2, 'a receiver that answers 500: an [error] line a POST');
is(scalar log_lines($t, qr/\[notice\].*otp alert: webhook msg_\w+ tried again in 1000 ms/),
   2, 'each to be tried again in 1 s');

# the receiver is back: the two POSTs come again, and only once more

$recv->on(qr{^/alert} => { status => 200, body => {} });

my @all = $recv->wait_requests(8, qr{^/alert});
my @again = @all[6 .. $#all];
is(scalar @again, 2, 'two POSTs again');
is(join(' ', sort map { $_->{headers}{'webhook-id'} // '' } @again),
   join(' ', sort map { $_->{headers}{'webhook-id'} // '' } @first[4, 5]),
   'with the webhook-ids of the ones that failed');
is(join(' ', sort map { $_->{body} } @again),
   join(' ', sort map { $_->{body} } @first[4, 5]), 'and their bodies');
is(scalar(grep { verified($_) } @again), 2, 'signed again, verified');

sleep 1.5;
is(scalar $recv->requests(qr{^/alert}), 8, 'answered 200: not tried again');

# a receiver that refuses (400) is not asked again: 3 successes make
# 4 of 11, 36.36%, under recover= (37.5%): resolved

$recv->on(qr{^/alert} => { status => 400, body => { error => 'no' } });
$mock->reset;

is(send_one(), 202, 'a success, resolving') for 1 .. 3;
is(wait_lines('resolved', 4), 4, 'resolved again (4 of 11)');
$recv->wait_requests(10, qr{^/alert});
sleep 1.5;
is(scalar $recv->requests(qr{^/alert}), 10, 'answered 400: not tried again');
is(scalar log_lines($t, qr/\[notice\].*otp alert: webhook msg_\w+ tried again/),
   2, 'no retry said');

# the lines the final check would take for faults: expected and counted
$t->stop;
is(drop_log_lines($t, qr/\[alert\].*otp alert (firing|resolved): /), 8,
   'eight alert lines in all');

$t->done;

###############################################################################
