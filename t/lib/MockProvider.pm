package MockProvider;

# (C) The ngx_http_otp_module authors

# A fake provider API for the integration tests, on core Perl only: an
# HTTP/1.1 server on a free 127.0.0.1 port, in a forked process, that
# answers what Twilio, Meta's WhatsApp Cloud API and Africa's Talking
# answer, byte for byte where it matters, so that the module's provider
# glue can be tested without the Internet.
#
#   my $mock = MockProvider->new(dir => $t->dir);
#   ... otp_provider tw twilio ... base_url=${\ $mock->url} ...
#   $mock->on(qr{/Messages\.json$} => { status => 400, body => {...} });
#   my @req = $mock->requests(qr{Messages});   # what the module sent
#   my @gone = $mock->hangups(qr{Messages});   # hung up on while delayed
#   $mock->reset;                              # defaults again
#   $mock->stop;                               # also on die, and at END
#
# Every connection is served by a child of its own (fork per connection),
# with keep-alive: the module reuses connections, and 20 and more
# concurrent ones are fine.  Every request is appended to a log file as one
# JSON line {method, path, query, headers (lower-case names), body, ts,
# conn, seq, action, answer}: conn is the serving child's pid (one per
# connection), seq the request's number on that connection (so reuse can
# be seen), action what the mock did (answer, hang, close, garbage; and
# peer_closed, a line of its own, when the module closed the connection
# while a delayed answer waited) and
# answer {status, body} what it said, logged before any delay, so that a
# test sees a request the mock is still sitting on.
#
# Behaviour is scripted per path (a regexp; the rule added last is tried
# first; method => 'POST' and body_like => qr/.../ narrow a rule).  A rule
# says what to answer:
#
#   status => 400, body => {..} or "text", headers => { Name => value },
#   content_type => 'text/plain'   (default application/json; charset=utf-8)
#   delay => SECONDS               before answering (fractions are fine)
#   hang => 1                      read the request, never answer
#   close => 1                     read the request, close without a word
#   garbage => 1                   answer bytes that are not HTTP, close
#   huge => N                      a 2xx JSON answer of N bytes
#   malformed_json => 1            a cut JSON body, with a valid header
#   quote => FIELD                 "{FIELD}" in the body becomes the form
#                                  field FIELD the module sent (JSON-escaped),
#                                  as a proxy that quotes a refused request
#   keepalive => SECONDS           after this answer, close the connection
#                                  silently once idle that long (default
#                                  60), as servers drop idle connections
#   callback => { statuses => ['sent', 'delivered'], token => AUTH_TOKEN,
#                 delay => SECONDS, error_code => 63016 }
#                                  after a Twilio message is accepted, post
#                                  its status callbacks, one per status and
#                                  in order, to the StatusCallback URL the
#                                  module gave, signed with AUTH_TOKEN as
#                                  Twilio signs them (X-Twilio-Signature);
#                                  error_code goes with failed/undelivered.
#                                  Each is logged as a line of its own
#                                  (method CALLBACK, answer {status}).
#
# A rule without a body answers the path's default body (with its status,
# if given).  The defaults are the providers' real success answers:
#   Twilio  POST /2010-04-01/Accounts/{AC}/Messages.json  201 {"sid":"SM..."}
#           POST /2010-04-01/Accounts/{AC}/Calls.json     201 {"sid":"CA..."}
#   Meta    POST /{version}/{phone_number_id}/messages    200 {"messages":
#                                                   [{"id":"wamid...."}]}
#   Africa's Talking  POST /version1/messaging            201 {"SMSMessageData"
#                                                  ...statusCode 101...}
# and anything else 404.  A TLS ClientHello is answered with a plain 400
# and the connection closed, as a plain-HTTP server does.  The scripts
# live in a file that the server reads at each request, so a test changes
# them at any time without a restart.
#
# Helpers for the test files (exported on request): form_pairs, form_hash,
# basic_auth (to read what the module sent), mask and star_digits (what
# the module logs and answers of a number or a provider's text), and, on
# an OtpTest harness, log_lines, leaks and drop_log_lines.

use warnings;
use strict;

use Digest::SHA qw(hmac_sha1_base64);
use Exporter qw(import);
use Fcntl qw(:flock O_WRONLY O_APPEND O_CREAT);
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use MIME::Base64 qw(decode_base64);
use POSIX qw(WNOHANG _exit setpgid);
use Socket qw(MSG_PEEK);
use Time::HiRes qw(sleep time);

our @EXPORT_OK = qw(form_pairs form_hash basic_auth mask star_digits
    scrubbed log_lines leaks drop_log_lines);

# every mock server started by this process, so that END can stop them
my %running;
my $creator = $$;

my $json = JSON::PP->new->canonical->allow_nonref;

my %reason = (
    100 => 'Continue', 200 => 'OK', 201 => 'Created', 202 => 'Accepted',
    204 => 'No Content', 400 => 'Bad Request', 401 => 'Unauthorized',
    403 => 'Forbidden', 404 => 'Not Found', 405 => 'Method Not Allowed',
    429 => 'Too Many Requests', 500 => 'Internal Server Error',
    502 => 'Bad Gateway', 503 => 'Service Unavailable',
);

###############################################################################

sub new {
    my ($class, %opts) = @_;

    my $dir = $opts{dir} || tempdir('otp-mock-XXXXXX', TMPDIR => 1,
                                    CLEANUP => 1);

    # A port the kernel chooses is in its ephemeral range, away from the
    # ports OtpTest hands out; but where TEST_OTP_PORTS reaches into that
    # range, one may be a port a harness holds (OtpTest::port: a UDP
    # socket on the number) before its nginx listens: take the same lock,
    # and another port while it is held.  Refused sockets stay open until
    # the end, so that the kernel does not offer them again.

    my ($listen, $lock, @refused);

    for (1 .. 20) {
        $listen = IO::Socket::INET->new(
            LocalAddr => '127.0.0.1',
            LocalPort => $opts{port} || 0,
            Proto => 'tcp',
            Listen => 128,
            ReuseAddr => 1,
        ) or die "mock: cannot listen: $!\n";

        $lock = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                      LocalPort => $listen->sockport,
                                      Proto => 'udp');

        last if $lock || $opts{port};

        push @refused, $listen;
        undef $listen;
    }

    die "mock: every port offered is held by a harness\n" unless $listen;

    my $port = $listen->sockport;
    my $name = $opts{name} || "mock-$port";

    my $self = bless {
        port => $port,
        dir => $dir,
        log => "$dir/$name.requests",
        rules_file => "$dir/$name.rules",
        rules => [],
        pid => undef,
        lock => $lock,
    }, $class;

    # a fresh log; rules before the server can read them
    open my $fh, '>', $self->{log} or die "mock: $self->{log}: $!\n";
    close $fh;
    $self->_write_rules;

    # the socket listens before the fork: the port accepts at once

    my $pid = fork() // die "mock: fork: $!\n";

    if ($pid == 0) {
        eval { $self->_serve($listen) };
        _exit(0);
    }

    close $listen;

    $self->{pid} = $pid;
    $running{$pid} = 1;

    return $self;
}

sub port { $_[0]{port} }
sub pid { $_[0]{pid} }
sub url { "http://127.0.0.1:$_[0]{port}" }
sub log_file { $_[0]{log} }

# Stops the server and every connection child (they share its process
# group, which is the server's pid), by pid.

sub stop {
    my ($self) = @_;

    my $pid = $self->{pid} or return $self;

    _stop_pid($pid);

    $self->{pid} = undef;

    return $self;
}

sub _stop_pid {
    my ($pid) = @_;

    for my $step ([ 'TERM', 5 ], [ 'KILL', 5 ]) {
        my ($sig, $wait) = @$step;

        # the group first: connection children; then the server itself
        kill $sig, -$pid;
        kill $sig, $pid;

        my $deadline = time + $wait;

        while (time < $deadline) {
            my $rc = waitpid($pid, WNOHANG);

            if ($rc == $pid || $rc == -1) {
                kill 'KILL', -$pid;    # a child left over, if any
                delete $running{$pid};
                return 1;
            }

            sleep 0.02;
        }
    }

    delete $running{$pid};
    return 0;
}

sub DESTROY {
    my ($self) = @_;

    return unless $$ == $creator;

    local ($?, $!, $@);
    $self->stop;
}

END {
    if ($$ == $creator) {
        local $?;
        _stop_pid($_) for keys %running;
    }
}

###############################################################################

# Scripts.  on(qr{path} => { ... }) adds a rule, replacing one with the
# same path, method and body_like; reset() drops them all.

sub on {
    my ($self, $path, $do) = @_;

    my %rule = %{ $do || {} };

    $rule{path} = defined $path ? "$path" : '';
    $rule{body_like} = "$rule{body_like}" if defined $rule{body_like};
    $rule{method} //= '';

    if (exists $rule{body} && ref $rule{body}) {
        $rule{body} = $json->encode($rule{body});
    }

    my $key = join "\0", $rule{path}, $rule{method}, $rule{body_like} // '';

    $self->{rules} = [ (grep { join("\0", $_->{path}, $_->{method},
                                    $_->{body_like} // '') ne $key }
                        @{ $self->{rules} }),
                       \%rule ];

    $self->_write_rules;

    return $self;
}

sub reset {
    my ($self) = @_;

    $self->{rules} = [];
    $self->_write_rules;

    return $self;
}

sub _write_rules {
    my ($self) = @_;

    my $tmp = "$self->{rules_file}.$$.tmp";

    open my $fh, '>', $tmp or die "mock: $tmp: $!\n";
    print $fh $json->encode($self->{rules});
    close $fh;

    rename $tmp, $self->{rules_file} or die "mock: rename: $!\n";
}

###############################################################################

# The requests received so far, oldest first, as hashes; with a regexp,
# only those whose path matches.

our $want_hangups = 0;

sub requests {
    my ($self, $path) = @_;

    my @all;

    open my $fh, '<:raw', $self->{log} or return ();

    while (my $line = <$fh>) {
        next unless $line =~ /\n$/;
        my $r = eval { JSON::PP->new->utf8->decode($line) } or next;
        push @all, $r;
    }

    close $fh;

    @all = grep { $_->{path} =~ $path } @all if defined $path;

    # a hang-up is no request: hangups() lists those
    return grep { $want_hangups xor ($_->{action} // '') ne 'peer_closed' }
           @all;
}

# The requests (matching $path) whose connection the module closed while
# the mock delayed its answer, each logged with the time it noticed (ts).

sub hangups {
    my ($self, $path) = @_;

    local $want_hangups = 1;

    return $self->requests($path);
}

# Waits until there are at least $n requests (matching $path), for up to
# $timeout seconds (default 5); returns them.

sub wait_requests {
    my ($self, $n, $path, $timeout) = @_;

    my $deadline = time + ($timeout || 5);
    my @r;

    while (1) {
        @r = $self->requests($path);
        return @r if @r >= $n || time > $deadline;
        sleep 0.02;
    }
}

sub clear_requests {
    my ($self) = @_;

    open my $fh, '>', $self->{log} or die "mock: $self->{log}: $!\n";
    close $fh;

    return $self;
}

###############################################################################

# Helpers for the tests: an x-www-form-urlencoded body as pairs in order
# ([name, value], ...) or as a hash (the last value of a name wins), and
# the user and password of a Basic Authorization header.

sub form_pairs {
    my ($body) = @_;

    my @pairs;

    for my $p (split /&/, $body // '', -1) {
        my ($k, $v) = split /=/, $p, 2;
        push @pairs, [ _unescape($k), _unescape($v // '') ];
    }

    return @pairs;
}

sub form_hash {
    my ($body) = @_;

    return map { @$_ } form_pairs($body);
}

sub _unescape {
    my ($s) = @_;

    $s =~ tr/+/ /;
    utf8::encode($s) if utf8::is_utf8($s);
    $s =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ge;
    utf8::decode($s);

    return $s;
}

sub basic_auth {
    my ($header) = @_;

    return () unless defined $header && $header =~ /^Basic ([A-Za-z0-9+\/=]+)$/;

    my $plain = decode_base64($1);

    return split /:/, $plain, 2;
}

###############################################################################

# For the test files, on an OtpTest harness ($t) without changing it.

# A number as the logs show it: "+15551234567" -> "+1******4567".
sub mask {
    my ($phone) = @_;

    my ($d) = $phone =~ /^\+(\d+)$/ or return '+***';

    return '+' . substr($d, 0, 1) . ('*' x (length($d) - 5))
           . substr($d, -4);
}

# Provider text as the module repeats it: runs of 4 and more digits
# starred (a number echoed, or a code quoted), white space collapsed.
sub star_digits {
    my ($text) = @_;

    $text =~ s/(\d{4,})/'*' x length $1/ge;
    $text =~ s/\s+/ /g;
    $text =~ s/^ | $//g;

    return $text;
}

# A regexp of provider or curl text as the error log shows it: any digit
# may be starred, since the module stars every three digits in a row that
# the code has in a row too (ngx_otp_wire_scrub), whatever the text.
sub scrubbed {
    my ($text) = @_;

    my $re = join '', map { /\d/ ? "[$_*]" : quotemeta } split //, $text;

    return qr/$re/;
}

# error.log lines that match.
sub log_lines {
    my ($t, $re) = @_;

    return grep { $_ =~ $re } split /\n/, $t->read_file('error.log');
}

# The lines of error.log and access.log that hold any of the secrets (a
# code, a credential); digits count only as a whole number, as OtpTest's
# own checks do.
sub leaks {
    my ($t, @secrets) = @_;

    @secrets = grep { defined && length } @secrets;

    my @lines = (split(/\n/, $t->read_file('error.log')),
                 split(/\n/, $t->read_file('access.log')));

    return grep {
        my $l = $_;
        grep {
            /^\d+$/ ? $l =~ /(?<![0-9A-Za-z])\Q$_\E(?![0-9A-Za-z])/
                    : index($l, $_) >= 0
        } @secrets
    } @lines;
}

# Removes from error.log the lines that match (nginx stopped): for the
# [alert] a test expects and has counted, which OtpTest's final check
# would otherwise take for a fault.  Returns how many were removed.
sub drop_log_lines {
    my ($t, $re) = @_;

    my $log = $t->read_file('error.log');
    my @lines = split /\n/, $log;
    my @keep = grep { $_ !~ $re } @lines;

    $t->write_file('error.log', join('', map { "$_\n" } @keep));

    return @lines - @keep;
}

###############################################################################

# The server: the parent of one child per connection, all in a process
# group of their own so that stop() ends them together.

sub _serve {
    my ($self, $listen) = @_;

    setpgid(0, 0);

    $SIG{TERM} = sub {
        local $SIG{TERM} = 'IGNORE';
        kill 'TERM', -$$;
        _exit(0);
    };
    $SIG{INT} = 'IGNORE';
    $SIG{PIPE} = 'IGNORE';
    $SIG{CHLD} = 'IGNORE';    # children are reaped by the kernel

    my $server = $$;
    my $parent = getppid();
    my $sel = IO::Select->new($listen);

    while (1) {

        # the test process went away without stopping us
        _exit(0) if getppid() != $parent;

        next unless $sel->can_read(0.5);

        my $c = $listen->accept or next;

        my $pid = fork();

        if (!defined $pid) {
            close $c;
            next;
        }

        if ($pid == 0) {
            $SIG{TERM} = 'DEFAULT';
            $SIG{CHLD} = 'DEFAULT';
            close $listen;
            eval { $self->_connection($c, $server) };
            _exit(0);
        }

        close $c;
    }
}

sub _connection {
    my ($self, $c, $server) = @_;

    binmode $c;
    $c->autoflush(1);

    my $sel = IO::Select->new($c);
    my $in = '';
    my $seq = 0;
    my $idle = time;
    my $idle_max = 60;    # seconds a kept-alive connection may sit idle
    my $sent_100 = 0;

    # ids must differ between children that forked from one state
    _seed();

    while (1) {
        my $req = _parse_request(\$in);

        if (ref $req eq 'HASH' && $req->{partial}) {
            # Expect: 100-continue, and the body has not come yet
            if ($req->{expect} && !$sent_100++) {
                _write_all($c, "HTTP/1.1 100 Continue\r\n\r\n") or return;
            }
            $req = undef;
        }

        if (!$req && $seq == 0 && $in =~ /^\x16\x03/) {
            # a TLS ClientHello on this plain-HTTP port: answer as a plain
            # server does (nginx says 400), and close
            $self->_log_request({ method => 'TLS', path => '', query => '',
                                  headers => {}, body => '', ts => time,
                                  conn => $$, seq => 1, action => 'close' });
            _write_all($c, "HTTP/1.1 400 Bad Request\r\n"
                           . "Content-Type: text/plain\r\n"
                           . "Content-Length: 0\r\nConnection: close\r\n\r\n");
            return;
        }

        if (!$req) {
            return if getppid() != $server;
            return if time - $idle > $idle_max;

            next unless $sel->can_read(0.2);

            my $n = sysread($c, $in, 65536, length $in);
            return unless $n;    # closed by the module (or an error)

            $idle = time;
            next;
        }

        $sent_100 = 0;
        $req->{seq} = ++$seq;
        $req->{conn} = $$;

        my ($keep, $keepalive) = $self->_answer($c, $req, $server);

        return unless $keep;

        $idle = time;
        $idle_max = $keepalive if defined $keepalive;
    }
}

sub _seed {
    my $seed = $$ ^ int(time * 1000);

    if (open my $rnd, '<:raw', '/dev/urandom') {
        my $b = '';
        read $rnd, $b, 4;
        close $rnd;
        $seed = unpack('L', $b) if length $b == 4;
    }

    srand($seed);
}

# One request out of $$in (consumed), or undef while its headers are
# incomplete, or { partial => 1, expect => 100-continue? } while its body
# is.

sub _parse_request {
    my ($in) = @_;

    my $end = index($$in, "\r\n\r\n");
    return undef if $end < 0;

    my ($line, @lines) = split /\r\n/, substr($$in, 0, $end);
    my ($method, $target, $version) = split / /, $line // '', 3;

    my %h;

    for (@lines) {
        my ($k, $v) = /^([^:]+):\s*(.*?)\s*$/ or next;
        $k = lc $k;
        $h{$k} = exists $h{$k} ? "$h{$k}, $v" : $v;
    }

    my $rest = substr($$in, $end + 4);
    my $body;

    if (($h{'transfer-encoding'} // '') =~ /chunked/i) {
        my ($out, $p) = ('', 0);

        while (1) {
            my $nl = index($rest, "\r\n", $p);
            if ($nl < 0) { $body = undef; last; }
            my $size = hex substr($rest, $p, $nl - $p);
            $p = $nl + 2;
            if ($size == 0) {
                my $trailer = index($rest, "\r\n", $p);
                if ($trailer < 0) { $body = undef; last; }
                $p = $trailer + 2;
                $body = $out;
                last;
            }
            if (length($rest) < $p + $size + 2) { $body = undef; last; }
            $out .= substr($rest, $p, $size);
            $p += $size + 2;
        }

        if (!defined $body) {
            return _partial(\%h);
        }

        $rest = substr($rest, $p);

    } else {
        my $len = $h{'content-length'} // 0;

        if (length $rest < $len) {
            return _partial(\%h);
        }

        $body = substr($rest, 0, $len);
        $rest = substr($rest, $len);
    }

    $$in = $rest;

    my ($path, $query) = split /\?/, $target // '', 2;

    return {
        method => $method // '',
        path => $path // '',
        query => $query // '',
        version => $version // '',
        headers => \%h,
        body => $body,
        ts => time,
    };
}

sub _partial {
    my ($h) = @_;

    return { partial => 1,
             expect => (($h->{expect} // '') =~ /100-continue/i ? 1 : 0) };
}

sub _log_request {
    my ($self, $req) = @_;

    my %rec = map { $_ => $req->{$_} }
              qw(method path query headers body ts conn seq action answer);

    # bodies are bytes: kept as text where they are UTF-8
    for my $b (\$rec{body}, $rec{answer} ? \$rec{answer}{body} : ()) {
        my $text = $$b;
        $$b = $text if defined $text && utf8::decode($text);
    }

    my $line = JSON::PP->new->utf8->canonical->encode(\%rec) . "\n";

    sysopen my $fh, $self->{log}, O_WRONLY | O_APPEND | O_CREAT
        or return;
    flock $fh, LOCK_EX;
    syswrite $fh, $line;
    flock $fh, LOCK_UN;
    close $fh;
}

sub _rules {
    my ($self) = @_;

    open my $fh, '<:raw', $self->{rules_file} or return [];
    local $/;
    my $text = <$fh>;
    close $fh;

    return eval { JSON::PP->new->decode($text) } || [];
}

sub _match {
    my ($self, $req) = @_;

    for my $rule (reverse @{ $self->_rules }) {
        next if length $rule->{path} && $req->{path} !~ /$rule->{path}/;
        next if length $rule->{method} && $req->{method} ne $rule->{method};
        next if defined $rule->{body_like}
                && $req->{body} !~ /$rule->{body_like}/;
        return $rule;
    }

    return {};
}

# Writes the answer; returns whether the connection stays open.

sub _answer {
    my ($self, $c, $req, $server) = @_;

    my $rule = $self->_match($req);

    # what to do, decided (and logged with the request) before any delay

    my $action = $rule->{hang} ? 'hang'
               : $rule->{close} ? 'close'
               : $rule->{garbage} ? 'garbage'
               : 'answer';

    my ($status, $body) = _default($req);
    $body = $$body if ref $body eq 'MockProvider::Raw';

    $status = $rule->{status} if $rule->{status};
    $body = $rule->{body} if exists $rule->{body};

    if (defined $rule->{quote}) {
        my %f = eval { form_hash($req->{body} // '') };
        my $v = $json->encode('' . ($f{$rule->{quote}} // ''));
        $v =~ s/^"|"$//g;
        $body =~ s/\{\Q$rule->{quote}\E\}/$v/g;
    }

    if ($rule->{huge}) {
        my $head = '{"sid":"SM' . _hex(32) . '","status":"queued","pad":"';
        my $tail = '"}';
        my $pad = $rule->{huge} - length($head) - length($tail);
        $body = $head . ('x' x ($pad > 0 ? $pad : 0)) . $tail;
        $status = $rule->{status} || 201;
    }

    if ($rule->{malformed_json}) {
        $body = '{"sid": "SM' . _hex(32) . '", "status": "queued", "to": ';
    }

    utf8::encode($body) if utf8::is_utf8($body);

    $req->{action} = $action;

    if ($action eq 'answer') {
        $req->{answer} = { status => 0 + $status,
                           body => length $body > 4096
                                   ? substr($body, 0, 4096) . '...' : $body };
    }

    $self->_log_request($req);

    if ($rule->{delay}) {
        my $until = time + $rule->{delay};
        my $sel = IO::Select->new($c);
        while (time < $until) {
            return 0 if getppid() != $server;
            my $left = $until - time;
            next unless $sel->can_read($left < 0.1 ? $left : 0.1);

            # a peek, so that bytes of a next request stay where they are
            my $buf = '';
            my $ok = recv($c, $buf, 1, MSG_PEEK);
            if (defined $ok && length $buf == 0) {
                # the module gave up on this request (cancelled, timed
                # out): logged, so that a test sees the abort and when
                $self->_log_request({ %$req, action => 'peer_closed',
                                      answer => undef, ts => time });
                return 0;
            }
            sleep 0.1;
        }
    }

    if ($action eq 'hang') {
        # read and drop whatever comes, answer nothing, until the module
        # gives up and closes, or the mock stops
        my $sel = IO::Select->new($c);
        while (1) {
            return 0 if getppid() != $server;
            next unless $sel->can_read(0.2);
            my $buf;
            my $n = sysread($c, $buf, 65536);
            return 0 unless $n;
        }
    }

    if ($action eq 'close') {
        close $c;
        return 0;
    }

    if ($action eq 'garbage') {
        _write_all($c, "\x00\xff\xfe garbage, not HTTP at all \x01\x02\r\n"
                       . "\x7f\x80 <<<>>>\r\n\r\n");
        close $c;
        return 0;
    }

    my $type = $rule->{content_type} // 'application/json; charset=utf-8';

    my $close = ($req->{headers}{connection} // '') =~ /close/i
                || $req->{version} eq 'HTTP/1.0';

    my $head = "HTTP/1.1 $status " . ($reason{$status} // 'Status') . "\r\n"
        . "Date: " . _http_date() . "\r\n"
        . "Content-Type: $type\r\n"
        . "Content-Length: " . length($body) . "\r\n"
        . ($close ? "Connection: close\r\n" : "Connection: keep-alive\r\n");

    my $h = $rule->{headers} || {};
    $head .= "$_: $h->{$_}\r\n" for sort keys %$h;

    _write_all($c, "$head\r\n$body") or return 0;

    $self->_callbacks($rule->{callback}, $req, $body)
        if $rule->{callback} && $status =~ /^2/;

    return (!$close, $rule->{keepalive});
}

# Twilio's status callbacks for a message just accepted, from a process of
# its own (in the server's process group, so stop() ends it), so that the
# connection goes on serving: the module reads them as it reads Twilio's.

sub _callbacks {
    my ($self, $cb, $req, $body) = @_;

    my %form = eval { form_hash($req->{body} // '') };
    my $url = $form{StatusCallback} or return;
    my $sid = eval { $json->decode($body)->{sid} } or return;
    my ($ac) = $req->{path} =~ m{/Accounts/([^/]+)/};

    my ($host, $port, $path) = $url =~ m{^http://([^/:]+):?(\d*)(/.*)?$}
        or return;

    my $pid = fork() // return;
    return if $pid;

    eval {
        sleep($cb->{delay} // 0.2);

        for my $st (@{ $cb->{statuses} || ['delivered'] }) {
            my %p = (AccountSid => $ac // '', ApiVersion => '2010-04-01',
                     MessageSid => $sid, MessageStatus => $st,
                     SmsSid => $sid, SmsStatus => $st,
                     To => $form{To} // '', From => $form{From} // '');
            $p{ErrorCode} = $cb->{error_code}
                if defined $cb->{error_code}
                   && $st =~ /^(failed|undelivered)$/;

            my $sig = hmac_sha1_base64($url . join('', map { $_ . $p{$_} }
                                                        sort keys %p),
                                       $cb->{token} // '');
            $sig .= '=' while length($sig) % 4;

            my $data = join '&', map { _esc($_) . '=' . _esc($p{$_}) }
                                 sort keys %p;

            my $s = IO::Socket::INET->new(PeerAddr => $host,
                                          PeerPort => $port || 80,
                                          Timeout => 5) or last;
            _write_all($s, "POST " . ($path // '/') . " HTTP/1.1\r\n"
                . "Host: $host" . ($port ? ":$port" : '') . "\r\n"
                . "Content-Type: application/x-www-form-urlencoded\r\n"
                . "X-Twilio-Signature: $sig\r\n"
                . "User-Agent: TwilioProxy/1.1\r\n"
                . "Content-Length: " . length($data) . "\r\n"
                . "Connection: close\r\n\r\n$data");

            my $answer = '';
            while (sysread($s, my $buf, 4096)) { $answer .= $buf; }
            close $s;

            my ($code) = $answer =~ m{^HTTP/1\.\d (\d+)};
            $self->_log_request({ method => 'CALLBACK', path => $path // '/',
                                  query => '', headers => {}, body => $data,
                                  ts => time, conn => $$, seq => 0,
                                  action => 'callback',
                                  answer => { status => 0 + ($code // 0),
                                              body => '' } });
        }
    };

    _exit(0);
}

sub _esc {
    my ($s) = @_;
    $s =~ s/([^A-Za-z0-9\-._~])/sprintf('%%%02X', ord $1)/ge;
    return $s;
}

sub _write_all {
    my ($c, $data) = @_;

    my $off = 0;

    while ($off < length $data) {
        my $n = syswrite($c, $data, 65536, $off);
        return 0 unless defined $n;
        $off += $n;
    }

    return 1;
}

sub _http_date {
    my @t = gmtime;
    return POSIX::strftime('%a, %d %b %Y %H:%M:%S GMT', @t);
}

sub _hex {
    my ($n) = @_;
    return join '', map { sprintf '%x', int rand 16 } 1 .. $n;
}

sub _alnum {
    my ($n) = @_;
    my @c = ('A' .. 'Z', 'a' .. 'z', '0' .. '9');
    return join '', map { $c[int rand @c] } 1 .. $n;
}

###############################################################################

# The providers' success answers, from their documentation.

sub _default {
    my ($req) = @_;

    my $path = $req->{path};
    my %form = eval { form_hash($req->{body}) };

    # Twilio: Messages.json and Calls.json

    if ($path =~ m{^/2010-04-01/Accounts/([^/]+)/Messages\.json$}) {
        my $ac = $1;
        my $sid = 'SM' . _hex(32);

        return (201, _obj(
            account_sid => $ac,
            api_version => '2010-04-01',
            body => $form{Body} // '',
            date_created => _rfc2822(),
            date_sent => undef,
            date_updated => _rfc2822(),
            direction => 'outbound-api',
            error_code => undef,
            error_message => undef,
            from => $form{From},
            messaging_service_sid => $form{MessagingServiceSid},
            num_media => '0',
            num_segments => '1',
            price => undef,
            price_unit => 'USD',
            sid => $sid,
            status => $form{MessagingServiceSid} ? 'accepted' : 'queued',
            subresource_uris => _obj(
                media => "/2010-04-01/Accounts/$ac/Messages/$sid/Media.json"),
            to => $form{To},
            uri => "/2010-04-01/Accounts/$ac/Messages/$sid.json",
        ));
    }

    if ($path =~ m{^/2010-04-01/Accounts/([^/]+)/Calls\.json$}) {
        my $ac = $1;
        my $sid = 'CA' . _hex(32);

        return (201, _obj(
            account_sid => $ac,
            annotation => undef,
            answered_by => undef,
            api_version => '2010-04-01',
            caller_name => undef,
            date_created => undef,
            date_updated => undef,
            direction => 'outbound-api',
            duration => undef,
            end_time => undef,
            forwarded_from => undef,
            from => $form{From},
            from_formatted => $form{From},
            group_sid => undef,
            parent_call_sid => undef,
            phone_number_sid => 'PN' . _hex(32),
            price => undef,
            price_unit => 'USD',
            sid => $sid,
            start_time => undef,
            status => 'queued',
            subresource_uris => _obj(
                notifications =>
                    "/2010-04-01/Accounts/$ac/Calls/$sid/Notifications.json",
                recordings =>
                    "/2010-04-01/Accounts/$ac/Calls/$sid/Recordings.json"),
            to => $form{To},
            to_formatted => $form{To},
            trunk_sid => undef,
            uri => "/2010-04-01/Accounts/$ac/Calls/$sid.json",
            queue_time => '0',
        ));
    }

    # Meta WhatsApp Cloud API: POST /v21.0/{phone_number_id}/messages

    if ($path =~ m{^/v\d+\.\d+/[^/]+/messages$}) {
        my $to = eval { JSON::PP->new->decode($req->{body})->{to} } // '';

        return (200, _obj(
            messaging_product => 'whatsapp',
            contacts => [ _obj(input => $to, wa_id => $to) ],
            # as long as real ones: 58 characters
            messages => [ _obj(id => 'wamid.HBgL' . _alnum(46) . 'AA',
                               message_status => 'accepted') ],
        ));
    }

    # Africa's Talking: POST /version1/messaging

    if ($path =~ m{^/version1/messaging$}) {
        return (201, _obj(
            SMSMessageData => _obj(
                Message => 'Sent to 1/1 Total Cost: KES 0.8000',
                Recipients => [ _obj(
                    statusCode => 101,
                    number => $form{to} // '',
                    status => 'Success',
                    cost => 'KES 0.8000',
                    messageId => 'ATXid_' . _hex(32),
                ) ],
            ),
        ));
    }

    return (404, _obj(error => 'not found', path => $path));
}

# a JSON object with its members in the order given, as the providers
# write them (JSON::PP would sort or shuffle them)

sub _obj {
    my (@pairs) = @_;

    my @members;

    while (my ($k, $v) = splice @pairs, 0, 2) {
        push @members, $json->encode($k) . ':' . _value($v);
    }

    return bless \('{' . join(',', @members) . '}'), 'MockProvider::Raw';
}

sub _value {
    my ($v) = @_;

    return ${$v} if ref $v eq 'MockProvider::Raw';
    return '[' . join(',', map { _value($_) } @$v) . ']' if ref $v eq 'ARRAY';
    return $json->encode($v);
}

sub _rfc2822 {
    return POSIX::strftime('%a, %d %b %Y %H:%M:%S +0000', gmtime);
}

1;
