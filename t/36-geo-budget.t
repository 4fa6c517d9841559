#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# Toll-fraud defences in front of a real provider type (mocked by
# t/lib/MockProvider.pm).  Geo permissions: a denied prefix is answered 403
# destination_blocked before anything is stored or any provider is asked
# (the mock sees nothing, the number's send limit is untouched, no code
# verifies); a deny can be per channel, and then the other channels still
# serve; an allow list per channel must match (sms allowed for +44, voice
# only for +1); a deny wins over an allow.  Budgets: budget=2/h lets two
# sends through and answers the third 429 rate_limited with retry_after
# (the end of the clock hour) and a Retry-After header; the provider is
# never asked beyond its budget, and the [alert] is logged exactly once,
# however many sends follow; in a chain, a provider over budget is skipped
# (its attempt says budget_exhausted) and the next one tried.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Time::HiRes qw(sleep time);
use OtpTest;
use MockProvider qw(log_lines drop_log_lines);

###############################################################################

my $t = OtpTest->new;

$t->plan(34);

my $mock = MockProvider->new(dir => $t->dir);

my $AC = 'AC36363636363636363636363636363636';
my $ACCAP = 'AC3636363636363636363636363636cafe';
my $AC1 = 'AC36363636363636363636363636360001';
my $AC2 = 'AC36363636363636363636363636360002';

my $conf = <<'EOF';

%%GLOBALS%%
worker_processes 1;

events {
}

http {
    %%HTTP_GLOBALS%%

    %%STORE%%
    otp_secret_file %%SECRET%%;

    otp_provider tw twilio account_sid=@AC@ auth_token=geobudgettoken
                 from=+15005550006 voice_from=+15005550006 base_url=@MOCK@;

    otp_provider capped twilio account_sid=@ACCAP@ auth_token=geobudgettoken
                 from=+15005550006 base_url=@MOCK@ budget=2/h;

    otp_provider first twilio account_sid=@AC1@ auth_token=geobudgettoken
                 from=+15005550006 base_url=@MOCK@ budget=1/h;

    otp_provider second twilio account_sid=@AC2@ auth_token=geobudgettoken
                 from=+15005550006 base_url=@MOCK@;

    otp_route sms +1555061 capped;
    otp_route sms +1555062 first second;
    otp_route sms default tw;

    server {
        listen 127.0.0.1:%%PORT%%;

        otp_client_limit off;

        location = /otp/send {
            otp_channels sms voice;
            otp_geo_deny all +882 +979;
            otp_geo_deny sms +4470;
            otp_send;
        }

        location = /otp/send/allow {
            otp_channels voice sms;
            otp_geo_allow sms +44;
            otp_geo_allow voice +1;
            otp_geo_deny sms +447978;
            otp_send;
        }

        location = /otp/send/sms {
            otp_channels sms;
            otp_send;
        }

        location = /otp/verify {
            otp_verify;
        }
    }
}

EOF

my %subst = (MOCK => $mock->url, AC => $AC, ACCAP => $ACCAP, AC1 => $AC1,
             AC2 => $AC2);
$conf =~ s/@(\w+)@/$subst{$1}/g;

# its budget=N/h sends in one clock hour
OtpTest::clear_of_the_hour();

$t->write_config($conf)->run;

###############################################################################

sub send_to {
    my ($path, $fields) = @_;

    my $before = scalar $mock->requests;
    my $r = $t->post_form($path, $fields);
    my @req = $mock->requests;

    return ($r, scalar(@req) - $before);
}

sub blocked {
    my ($r, $asked, $name) = @_;

    local $Test::Builder::Level = $Test::Builder::Level + 1;

    response_is($r, 403, { error => 'destination_blocked',
                           message => any_string }, "$name: 403");
    is($asked, 0, "$name: no provider asked");
}

sub accepted_by {
    my ($r) = @_;
    return $r->{status} . ' ' . ($r->{json} ? join(' ', $r->{json}{channel} // '',
                                                   $r->{json}{provider} // '')
                                            : $r->{body});
}

my ($r, $asked);

###############################################################################

# denied prefixes: refused before anything, for every channel

($r, $asked) = send_to('/otp/send', { phone => '+88212345678' });
blocked($r, $asked, 'deny all +882');

($r, $asked) = send_to('/otp/send', { phone => '+97912345678',
                                      channel => 'voice' });
blocked($r, $asked, 'deny all +979, voice');

# nothing stored: five more sends are 403 still, never 429 (otp_send_limit
# 5/15m counts nothing), and no code verifies

my @more = map { (send_to('/otp/send', { phone => '+88212345678' }))[0]{status} }
           1 .. 5;
is("@more", '403 403 403 403 403', 'deny: nothing counted against the number');

$r = $t->post_form('/otp/verify', { phone => '+88212345678', code => '123456' });
is($r->{status}, 410, 'deny: no code was stored');

# a deny for sms only: voice still serves that number

($r, $asked) = send_to('/otp/send', { phone => '+447012345678',
                                      channel => 'sms' });
blocked($r, $asked, 'deny sms +4470, channel=sms');

($r, $asked) = send_to('/otp/send', { phone => '+447012345679' });
is(accepted_by($r) . " $asked", '202 voice tw 1',
   'deny sms +4470: auto skips sms, voice serves');

# allow lists per channel: sms for +44, voice for +1

($r, $asked) = send_to('/otp/send/allow', { phone => '+447700900001' });
is(accepted_by($r), '202 sms tw', 'allow: +44 auto: voice not allowed, sms');

($r, $asked) = send_to('/otp/send/allow', { phone => '+447700900002',
                                            channel => 'voice' });
blocked($r, $asked, 'allow: +44 voice');

($r, $asked) = send_to('/otp/send/allow', { phone => '+15550600001' });
is(accepted_by($r), '202 voice tw', 'allow: +1 auto: voice');

($r, $asked) = send_to('/otp/send/allow', { phone => '+15550600002',
                                            channel => 'sms' });
blocked($r, $asked, 'allow: +1 sms');

($r, $asked) = send_to('/otp/send/allow', { phone => '+33612345678' });
blocked($r, $asked, 'allow: +33 on no list');

# a deny wins over an allow

($r, $asked) = send_to('/otp/send/allow', { phone => '+447978100001',
                                            channel => 'sms' });
blocked($r, $asked, 'deny over allow: +447978 sms');

###############################################################################

# budgets count per clock hour: keep clear of the hour's end

my $left = 3600 - time % 3600;

if ($left < 30) {
    diag("waiting ${left}s for the next hour to start");
    sleep $left + 1;
}

my $hour_end = (int(time / 3600) + 1) * 3600;

my $capped = qr{^/2010-04-01/Accounts/$ACCAP/Messages\.json$};

for my $i (1 .. 2) {
    ($r) = send_to('/otp/send/sms', { phone => "+155506100$i$i" });
    is(accepted_by($r), '202 sms capped', "budget 2/h: send $i accepted");
}

($r) = send_to('/otp/send/sms', { phone => '+15550610033' });

response_is($r, 429, {
    error => 'rate_limited',
    message => any_string,
    retry_after => int_in(1, 3600),
}, 'budget 2/h: the third send is 429 rate_limited', {
    'Retry-After' => qr/^\d+$/,
});

my $retry = $r->{json} ? $r->{json}{retry_after} // 0 : 0;

is($r->{headers}{'retry-after'}, $retry, 'budget: Retry-After says retry_after');
ok(abs($retry - ($hour_end - time)) <= 2,
   "budget: retry_after is the end of the hour ($retry s)");

my @after = map { (send_to('/otp/send/sms', { phone => "+1555061004$_" }))[0]{status} }
            1 .. 3;
is("@after", '429 429 429', 'budget: later sends are 429 too');

is(scalar($mock->requests($capped)), 2, 'budget: the provider was asked twice only');

my $alert = qr/\[alert\].*otp provider "capped" spent its budget/;
is(scalar(log_lines($t, $alert)), 1, 'budget: the [alert] is logged once');

# in a chain, a provider over budget is skipped for the next one

($r) = send_to('/otp/send/sms', { phone => '+15550620001' });
is(accepted_by($r), '202 sms first', 'chain: first takes its one send');

($r) = send_to('/otp/send/sms', { phone => '+15550620002' });
is(accepted_by($r), '202 sms second', 'chain: first over budget, second serves');

$mock->on(qr{^/2010-04-01/Accounts/$AC2/Messages\.json$} => {
    status => 400,
    body => { code => 21610, status => 400,
              message => 'Attempt to send to unsubscribed recipient',
              more_info => 'https://www.twilio.com/docs/errors/21610' },
});

($r) = send_to('/otp/send/sms', { phone => '+15550620003' });

response_is($r, 502, {
    error => 'delivery_failed',
    message => any_string,
    attempts => [
        { channel => 'sms', provider => 'first', error => 'budget_exhausted' },
        { channel => 'sms', provider => 'second', error => 'rejected',
          provider_code => 21610 },
    ],
}, 'chain: 502 lists the budget and the second\'s error');

$mock->reset;

is(scalar($mock->requests(qr{/Accounts/$AC1/})), 1,
   'chain: first was asked once only');

is(scalar(log_lines($t, qr/\[alert\].*otp provider "first" spent its budget/)), 1,
   'chain: its [alert] logged once');

is(scalar(log_lines($t, qr/\[alert\]/)), 2, 'no other [alert]');

###############################################################################

# the two [alert]s were expected and counted: drop them, so that the final
# check looks at everything else

$t->stop;

is(drop_log_lines($t, qr/\[alert\].*otp provider "(capped|first)" spent its budget/),
   2, 'the expected [alert]s set aside');

$mock->stop;
$t->done;

###############################################################################
