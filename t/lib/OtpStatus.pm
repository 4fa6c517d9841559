package OtpStatus;

# (C) The ngx_http_otp_module authors

# Helpers for the delivery status tests (t/47-status.t, t/49-longpoll.t,
# t/53-fallback.t), on core Perl only:
#
#   twilio_report($t, '/hooks/tw', $token, MessageSid => $sid,
#                 MessageStatus => 'failed', ErrorCode => 30008);
#       a status callback as Twilio sends it, signed (X-Twilio-Signature)
#       for the URL http://127.0.0.1:PORT/hooks/tw, which the
#       configuration's otp_public_url must name (http://127.0.0.1:%%PORT%%)
#   my $h = poll_start($t, '/otp/status/SM..?wait=10');   # sent, not read
#   my $r = poll_finish($h, 15);     # the answer, $r->{elapsed} seconds
#       a long-poll held open while the test does something else
#   my @socks = poll_many($t, $path, $n);    # n held requests, not read
#   my $n = poll_answered(\@socks, $timeout);   # how many got an answer
#   rfc3339_ok($s): "2026-11-23T07:00:00Z", within a day of now

use warnings;
use strict;

use Exporter qw(import);
use Digest::SHA qw(hmac_sha1_base64);
use IO::Poll qw(POLLIN POLLOUT POLLERR POLLHUP);
use IO::Socket::INET;
use POSIX qw(EINPROGRESS EWOULDBLOCK EAGAIN);
use Socket qw(SOL_SOCKET SO_LINGER);
use Time::HiRes qw(time sleep);
use Time::Local qw(timegm);

our @EXPORT = qw(twilio_report twilio_signature poll_start poll_finish
    poll_many poll_answered rfc3339_ok);

sub _esc {
    my ($s) = @_;
    $s =~ s/([^A-Za-z0-9\-._~])/sprintf('%%%02X', ord $1)/ge;
    return $s;
}

# Twilio's: base64 HMAC-SHA1 of the URL and each parameter, name then
# value, sorted by name
sub twilio_signature {
    my ($token, $url, %p) = @_;

    my $sig = hmac_sha1_base64($url . join('', map { $_ . $p{$_} }
                                                sort keys %p), $token);

    return $sig . '=' x ((4 - length($sig) % 4) % 4);
}

sub twilio_report {
    my ($t, $path, $token, %p) = @_;

    my $url = 'http://127.0.0.1:' . $t->port . $path;
    my $body = join('&', map { _esc($_) . '=' . _esc($p{$_}) } sort keys %p);

    return $t->post($path, 'application/x-www-form-urlencoded', $body,
                    headers => { 'X-Twilio-Signature'
                                 => twilio_signature($token, $url, %p) });
}

sub poll_start {
    my ($t, $path, %opts) = @_;

    my $port = $opts{port} || $t->port;

    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                  Timeout => 5)
        or die "connect: $!";

    binmode $s;
    syswrite($s, ($opts{method} || 'GET') . " $path HTTP/1.1\r\n"
                 . "Host: localhost\r\n"
                 . "Connection: close\r\n\r\n");

    return { sock => $s, start => time };
}

sub poll_finish {
    my ($h, $timeout) = @_;

    my $s = $h->{sock};
    my $poll = IO::Poll->new;
    $poll->mask($s => POLLIN);

    my $in = '';
    my $deadline = time + $timeout;

    while (time < $deadline) {
        $poll->poll($deadline - time) or next;
        my $n = sysread($s, $in, 65536, length $in);
        last unless $n;
    }

    my $end = time;
    close $s;

    my ($r) = OtpTest::_parse_response($in);
    $r ||= { status => 0, body => $in, headers => {} };
    $r->{elapsed} = $end - $h->{start};
    $r->{raw} = $in;

    return $r;
}

# n requests at once from this process (connect() without waiting, the
# request written as each socket connects); returns the sockets
sub poll_many {
    my ($t, $path, $n, %opts) = @_;

    my $port = $opts{port} || $t->port;
    my $req = "GET $path HTTP/1.1\r\nHost: localhost\r\n"
              . "Connection: close\r\n\r\n";
    my $addr = Socket::pack_sockaddr_in($port, Socket::inet_aton('127.0.0.1'));

    my (@socks, %pending);
    my $poll = IO::Poll->new;

    for (1 .. $n) {
        socket(my $s, Socket::PF_INET(), Socket::SOCK_STREAM(), 0)
            or die "socket: $!";
        IO::Handle::blocking($s, 0);
        connect($s, $addr) or $! == EINPROGRESS or die "connect: $!";
        push @socks, $s;
        $pending{ fileno $s } = $s;
        $poll->mask($s => POLLOUT);
    }

    my $deadline = time + 30;

    while (%pending && time < $deadline) {
        $poll->poll(1) or next;

        for my $s ($poll->handles(POLLOUT | POLLERR | POLLHUP)) {
            syswrite($s, $req) == length $req or die "write: $!";
            $poll->remove($s);
            delete $pending{ fileno $s };
        }
    }

    die scalar(keys %pending) . " of $n requests not sent\n" if %pending;

    return @socks;
}

# waits up to timeout for an answer (a "HTTP/1.1 200" first line) on each
# socket; returns how many answered, and closes them all
sub poll_answered {
    my ($socks, $timeout, $want) = @_;

    my $poll = IO::Poll->new;
    my %in;

    $poll->mask($_ => POLLIN) for @$socks;

    my $deadline = time + $timeout;
    my $done = 0;

    while ($done < @$socks && time < $deadline) {
        $poll->poll($deadline - time) or next;

        for my $s ($poll->handles(POLLIN | POLLERR | POLLHUP)) {
            my $n = sysread($s, $in{ fileno $s }, 4096,
                            length($in{ fileno $s } // ''));
            next if !defined $n && ($! == EAGAIN || $! == EWOULDBLOCK);

            if (!$n) {
                $poll->remove($s);
                $done++;
            }
        }
    }

    my $ok = grep { ($in{ fileno $_ } // '') =~ ($want // qr{^HTTP/1\.1 200})
                  } @$socks;

    close $_ for @$socks;

    return $ok;
}

sub rfc3339_ok {
    my ($s) = @_;

    return 0 unless defined $s
        && $s =~ /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)Z$/;

    my $t = timegm($6, $5, $4, $3, $2 - 1, $1);

    return abs(time - $t) < 86400;
}

1;
