#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# A client that leaves while its send waits on a provider cancels the
# provider call at once: the module notices the close (also when the FIN
# came with the request, which an edge-triggered epoll reports only once:
# the case ngx_http_limit_req_module.c and ngx_http_upstream.c handle by
# posting a read event that is ready already), its request's cleanup aborts
# the transfer, the provider sees its connection closed long before it
# would have answered, and nothing is logged as sent.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use IO::Socket::INET;
use Time::HiRes qw(time sleep);
use OtpTest;
use MockProvider qw(form_hash);

###############################################################################

my $t = OtpTest->new;

$t->plan(6);

my $mock = MockProvider->new(dir => $t->dir);

my $AC = 'AC38383838383838383838383838383838';

my $conf = <<'EOF';

%%GLOBALS%%
worker_processes 1;

events {
}

http {
    %%HTTP_GLOBALS%%

    %%STORE%%
    otp_secret_file %%SECRET%%;

    otp_provider tw twilio account_sid=@AC@ auth_token=aborttoken
                 from=+15005550006 base_url=@MOCK@ timeout=10s;

    server {
        listen 127.0.0.1:%%PORT%%;

        otp_client_limit off;

        location = /otp/send {
            otp_send;
        }
    }
}

EOF

my %subst = (MOCK => $mock->url, AC => $AC);
$conf =~ s/@(\w+)@/$subst{$1}/g;

$t->write_config($conf)->run;

# the provider takes 3 s: far longer than noticing a close may take
$mock->on(qr{/Messages\.json$} => { delay => 3 });

sub send_and_leave {
    my ($phone, $wait_for_provider) = @_;

    $t->uses_phone($phone);

    my $body = 'phone=' . ($phone =~ s/\+/%2B/r);
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $t->port('PORT'))
        or die "connect: $!";

    print $s "POST /otp/send HTTP/1.1\r\nHost: localhost\r\n"
             . "Content-Type: application/x-www-form-urlencoded\r\n"
             . "Content-Length: " . length($body) . "\r\n\r\n$body";

    # with the provider's request in flight, or at once (the FIN then
    # arrives with the request)
    if ($wait_for_provider) {
        my $until = time + 5;
        sleep 0.02 while !provider_lines($phone) && time < $until;
    }

    my $closed = time;
    close $s;

    return $closed;
}

# the provider's lines for a number: its request, and peer_closed if the
# module hung up on it
sub provider_lines {
    my ($phone) = @_;

    return grep { my %f = form_hash($_->{body} // ''); ($f{To} // '') eq $phone }
           $mock->requests(qr/Messages/), $mock->hangups(qr/Messages/);
}

sub wait_closed {
    my ($phone, $until) = @_;

    while (time < $until) {
        my ($c) = grep { $_->{action} eq 'peer_closed' }
                  provider_lines($phone);
        return $c if $c;
        sleep 0.05;
    }

    return undef;
}

###############################################################################

# 1: the client closes as soon as its request is out

my $p1 = '+15550138001';
my $closed = send_and_leave($p1, 0);

sleep 1.5;

my @lines = provider_lines($p1);
my ($answered) = grep { $_->{action} eq 'answer' } @lines;
my ($hung_up) = grep { $_->{action} eq 'peer_closed' } @lines;

ok(!@lines || $hung_up,
   'closed with its request: the provider call was never made or was '
   . 'cancelled') or diag(explain(\@lines));
ok(!@lines || $hung_up && $hung_up->{ts} - $closed < 1.5,
   'and that within a second or so, not when the provider answered');

# 2: the client closes while the provider sits on the request

my $p2 = '+15550138002';
$closed = send_and_leave($p2, 1);

my $c = wait_closed($p2, time + 2.5);

ok($c, 'closed mid-call: the provider saw its connection closed');
ok($c && $c->{ts} - $closed < 1,
   sprintf('within a second of the client leaving (%.0f ms)',
           $c ? ($c->{ts} - $closed) * 1000 : -1));

# past the provider's 3 s: nothing was delivered late

sleep 2;

$t->stop;

my $log = $t->read_file('error.log');
my $access = $t->read_file('access.log');

unlike($log, qr/otp code sent/, 'nothing is logged as sent');
is(scalar(() = $access =~ m{"POST /otp/send HTTP/1\.1" 499 }g), 2,
   'both requests are logged as closed by the client (499)');

$mock->stop;

$t->done;
