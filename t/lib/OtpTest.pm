package OtpTest;

# (C) The ngx_http_otp_module authors

# A small harness for the integration tests, on core Perl only, in the
# spirit of nginx-tests' Test::Nginx: a temporary prefix per test file, an
# nginx started with -p/-c/-e on loopback ports locked for the file's life
# (see port), a real redis-server where the store is Redis, a raw HTTP
# client, and the implicit checks that end every file: error.log and
# access.log, and no sanitizer report in nginx's stderr or error.log.
#
#   my $t = OtpTest->new;
#   $t->plan(N * $t->stores);           # + the implicit log checks
#   for my $store ($t->stores) {
#       $t->write_config($conf, store => $store)->run;
#       my $r = $t->post_form('/otp/send', { phone => '+15550100001' });
#       response_is($r, 202, { status => 'pending', ... }, 'accepted');
#       $t->stop;
#   }
#   $t->done;                           # stops everything, checks the logs
#
# Also: check_config (what nginx -t says of a configuration), post_json,
# post (any content type), get, raw (bytes as they are),
# code_for / sent (what the log provider printed for a message id),
# send_code, reload, stop_redis / start_redis / restart_redis,
# concurrently (forked clients released together), share_store_with (a
# second nginx on the same store), jwt_decode.  h2 => 1 to a request
# method: over HTTP/2 (see _h2).  OtpTest->new(nginx => BINARY, module =>
# undef): an nginx with the module built in.
#
# Environment: OTP_MODULE (the .so, default build/ngx_http_otp_module.so),
# TEST_NGINX_BINARY (default /usr/sbin/nginx), TEST_NGINX_LEAVE (keep the
# temporary directory), TEST_REDIS_BINARY (default redis-server in PATH),
# TEST_OTP_STORES (e.g. "shm" to run one store only), TEST_OTP_PORTS
# (lo-hi: the ports to use), TEST_OTP_HTTP2 (requests over HTTP/2 where
# the configuration has a plain `listen 127.0.0.1:%%PORT%%;`).

use warnings;
use strict;

use Config;
use Cwd qw(abs_path);
use Errno qw(ECHILD);
use Exporter qw(import);
use File::Basename qw(dirname);
use File::Copy qw(copy);
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use MIME::Base64 qw(encode_base64 decode_base64);
use Digest::SHA qw(hmac_sha256);
use POSIX qw(WNOHANG _exit);
use Scalar::Util qw(blessed);
use Test::More ();
use Time::HiRes qw(sleep time);

our @EXPORT = qw(response_is int_in number true false any_string jwt_decode);

# the number of tests done() adds to a file's plan
use constant IMPLICIT_TESTS => 5;

my $root = abs_path(dirname(__FILE__) . '/../..');

# every process a harness started, so that END can stop them on die
my %running;
my $creator = $$;

###############################################################################

sub new {
    my ($class, %opts) = @_;

    my $dir = tempdir('otp-test-XXXXXX', TMPDIR => 1,
                      CLEANUP => !$ENV{TEST_NGINX_LEAVE});

    # workers run as an unprivileged user when the tests run as root;
    # they must reach the temp paths below the prefix
    chmod 0755, $dir;

    my $self = bless {
        dir => $dir,
        nginx => $opts{nginx} || $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx',
        # module => undef: an nginx with the module built in (no load_module)
        module => exists $opts{module} ? $opts{module}
                  : $ENV{OTP_MODULE} || "$root/build/ngx_http_otp_module.so",
        redis_bin => $ENV{TEST_REDIS_BINARY} || _which('redis-server'),
        ports => {},
        phones => {},
        codes => {},
        pid => undef,
        redis_pid => undef,
        log_offset => 0,
        h2 => $ENV{TEST_OTP_HTTP2},
    }, $class;

    Test::More::diag("prefix $dir kept") if $ENV{TEST_NGINX_LEAVE};

    $self->_write_secret;
    $self->_copy_module;

    return $self;
}

sub dir { $_[0]{dir} }

sub _which {
    my ($name) = @_;

    for my $d (split /:/, $ENV{PATH} || '') {
        return "$d/$name" if -x "$d/$name";
    }

    return undef;
}

# nginx loads a copy of the module kept in the prefix: a rebuild writes
# the .so in place, and a running nginx's mapped code would change under
# it (and crash) if it had loaded the original.

sub _copy_module {
    my ($self) = @_;

    my $src = $self->{module};
    return unless defined $src && -f $src;

    my $dst = "$self->{dir}/ngx_http_otp_module.so";

    for (1 .. 20) {
        my @before = (stat $src)[7, 9];

        copy($src, $dst) or die "cannot copy $src: $!";

        my @after = (stat $src)[7, 9];

        # the same size and time before and after, and all of it copied
        if ("@before" eq "@after" && -s $dst == $before[0]
            && time - $after[1] > 1)
        {
            $self->{module} = $dst;
            return;
        }

        sleep 0.5;
    }

    die "$src keeps changing\n";
}

sub _write_secret {
    my ($self) = @_;

    $self->write_file('otp.key', encode_base64(_random(32), '') . "\n", 0600);

    # a token key known to the tests (otp_token_key_file %%TOKEN_KEY%%),
    # so that they can check token signatures; the file's text is the key
    $self->{token_key} = unpack('H*', _random(32));
    $self->write_file('token.key', "$self->{token_key}\n", 0600);
}

sub _random {
    my ($n) = @_;

    my $bytes = '';
    open my $rnd, '<:raw', '/dev/urandom' or die "urandom: $!";
    read($rnd, $bytes, $n) == $n or die "urandom: short read";
    close $rnd;

    return $bytes;
}

sub token_key { $_[0]{token_key} }

# A provider's budget=N/h counts by the clock hour: a test that counts
# sends against one waits, when it would start less than $secs (60)
# before the top of an hour, until the hour has turned, so that its sends
# fall in one hour.  (t/67 failed so once, its sends counted 19 + 12.)
sub clear_of_the_hour {
    my ($secs) = @_;

    my $left = 3600 - time() % 3600;

    return if $left >= ($secs // 60);

    Test::More::diag("waiting ${left}s for the top of the hour: "
                     . "budget=N/h counts by the clock hour");
    sleep $left + 1;
}

# conf-examples/audit-log.conf's audit log as it is written there: its
# log_format, and its access_log writing PREFIX/audit.log, flushed every
# second (a test reads it soon); dies when the example lost either
sub audit_example {
    my $example = do {
        local $/;
        open my $fh, '<', "$root/conf-examples/audit-log.conf"
            or die "conf-examples/audit-log.conf: $!\n";
        <$fh>;
    };

    my ($format) = $example =~ /(log_format otp_audit .*?;)\n/s;
    my ($audit) = $example =~ /(access_log logs\/otp-audit\.log .*?;)/s;

    die "no log_format or audit access_log in conf-examples/audit-log.conf\n"
        unless $format && $audit;

    $audit =~ s{logs/otp-audit\.log}{%%PREFIX%%/audit.log};
    $audit =~ s/flush=5s/flush=1s/;

    return ($format, $audit);
}

# A second nginx on the first one's store: the same secret and token key,
# and (for Redis) the first harness's redis-server, which this one neither
# starts nor stops.

sub share_store_with {
    my ($self, $other) = @_;

    $self->write_file('otp.key', $other->read_file('otp.key'), 0600);
    $self->write_file('token.key', $other->read_file('token.key'), 0600);
    $self->{token_key} = $other->{token_key};

    $self->{redis_of} = $other;
    $self->{ports}{REDIS_PORT} = $other->port('REDIS_PORT');

    return $self;
}

sub write_file {
    my ($self, $name, $content, $mode) = @_;

    my $path = "$self->{dir}/$name";

    open my $fh, '>:raw', $path or die "cannot write $path: $!";
    print $fh $content;
    close $fh;

    chmod $mode, $path if defined $mode;

    return $path;
}

sub read_file {
    my ($self, $name) = @_;

    my $path = "$self->{dir}/$name";

    open my $fh, '<:raw', $path or return '';
    local $/;
    my $content = <$fh>;
    close $fh;

    return $content;
}

###############################################################################

# The stores every file runs against: shm always, redis when redis-server
# is installed (a file that needs Redis alone calls need_redis instead).

sub stores {
    my ($self) = @_;

    my @stores = ('shm');
    push @stores, 'redis' if $self->{redis_bin};

    if ($ENV{TEST_OTP_STORES}) {
        my %want = map { $_ => 1 } split /[\s,]+/, $ENV{TEST_OTP_STORES};
        @stores = grep { $want{$_} } @stores;
    }

    return @stores;
}

sub need_redis {
    my ($self) = @_;

    Test::More::plan(skip_all => 'redis-server not found')
        unless $self->{redis_bin};

    return $self;
}

sub plan {
    my ($self, $n) = @_;

    Test::More::plan(skip_all => "no module at $self->{module}"
                                 . " (run scripts/build)")
        if defined $self->{module} && !-f $self->{module};
    Test::More::plan(skip_all => "no nginx binary at $self->{nginx}")
        unless -x $self->{nginx};

    Test::More::plan(tests => $n + IMPLICIT_TESTS);

    return $self;
}

# A loopback port of its own, by name; a named port keeps its number for
# the life of the harness (so a restarted Redis comes back on its own).
#
# Every port handed out stays locked until the harness goes, the way
# nginx-tests does it: a UDP socket bound to the same number on 127.0.0.1.
# Another harness (another `prove -j` job, another developer's suite,
# nginx-tests itself) cannot bind that UDP port, so it picks another one,
# even while nobody listens on the TCP port: before nginx starts, between a
# stop and a run, while Redis restarts, for a port kept closed on purpose.
# Probing alone (bind, close, hand out) leaves exactly those gaps.  Why a
# socket and not a lock file per port: the kernel drops it when the process
# ends, even on SIGKILL, so no lock is ever stale; and it lives in the
# network namespace, where ports collide, not in a directory that two
# users (umask, sticky /tmp) or two containers on one network might not
# share.  A test that needs a UDP server on a port would need another lock;
# none does.
#
# Ports come from below the kernel's ephemeral range (TEST_OTP_PORTS=lo-hi
# to choose), so that no bind(0) or connect() (a mock provider, nginx's
# own connections) is given a port a harness holds but nobody listens on.

sub port {
    my ($self, $name) = @_;

    $name //= 'PORT';

    return $self->{ports}{$name} if $self->{ports}{$name};

    my ($lo, $hi) = _port_range();
    my $n = $hi - $lo + 1;

    # a small range is tried whole, a large one by 2000 random picks
    my @try = $n <= 2000
        ? map { $_->[1] } sort { $a->[0] <=> $b->[0] }
          map { [ rand, $_ ] } $lo .. $hi
        : map { $lo + int rand $n } 1 .. 2000;

    for my $port (@try) {
        next if $self->{locks}{$port};

        my $lock = lock_port($port) or next;

        # and nothing outside any harness listens there, nor lingers
        my $probe = IO::Socket::INET->new(
            LocalAddr => '127.0.0.1',
            LocalPort => $port,
            Proto => 'tcp',
            Listen => 1,
            ReuseAddr => 0,
        ) or next;

        close $probe;

        $self->{locks}{$port} = $lock;

        return $self->{ports}{$name} = $port;
    }

    die "no free port in $lo-$hi\n";
}

# The lock on a port: a UDP socket bound to it (never with SO_REUSEADDR,
# which would let a second one bind), or undef when another holds it.
# MockProvider takes one for its kernel-chosen port too.

sub lock_port {
    my ($port) = @_;

    return IO::Socket::INET->new(
        LocalAddr => '127.0.0.1',
        LocalPort => $port,
        Proto => 'udp',
    );
}

# the ports to hand out: TEST_OTP_PORTS, or from 20000 to the start of the
# ephemeral range (the range above it where that is too narrow)
sub _port_range {
    if (($ENV{TEST_OTP_PORTS} // '') =~ /^\s*(\d+)\s*-\s*(\d+)\s*$/) {
        die "TEST_OTP_PORTS: $1-$2 is not a range of ports\n"
            unless $1 >= 1 && $1 <= $2 && $2 <= 65535;
        return ($1, $2);
    }

    my ($eph_lo, $eph_hi) = (32768, 60999);

    if (open my $fh, '<', '/proc/sys/net/ipv4/ip_local_port_range') {
        my $line = <$fh> // '';
        ($eph_lo, $eph_hi) = ($1, $2) if $line =~ /(\d+)\s+(\d+)/;
        close $fh;
    }

    return (20000, $eph_lo - 1) if $eph_lo - 20000 >= 1000;
    return ($eph_hi + 1, 65535) if 65535 - $eph_hi >= 1000;
    return (10000, 65535);
}

###############################################################################

# A full nginx.conf.  Substitutes %%GLOBALS%% (load_module, pid, error_log
# at debug, daemon off), %%HTTP_GLOBALS%% (access log and temp paths in the
# prefix), %%STORE%% (otp_store for the store named by the store option),
# %%PORT%%, %%PORT2%%.., %%REDIS_PORT%%, %%PREFIX%%, %%MODULE%%, %%SECRET%%,
# %%TOKEN_KEY%%.

sub write_config {
    my ($self, $text, %opts) = @_;

    my $store = $opts{store} || 'shm';
    my $dir = $self->{dir};

    $self->{store} = $store;

    my $store_conf = $store eq 'redis'
        ? 'otp_store redis://127.0.0.1:%%REDIS_PORT%%/0'
          . ' connect_timeout=1s timeout=1s;'
        : 'otp_store shm:otp_test:1m;';

    my $load = defined $self->{module}
        ? "load_module $self->{module};" : '';

    my $globals = <<"EOF";
$load
pid $dir/nginx.pid;
error_log $dir/error.log debug;
daemon off;
EOF

    my $http_globals = <<"EOF";
access_log $dir/access.log;
    client_body_temp_path $dir/client_body_temp;
    proxy_temp_path $dir/proxy_temp;
    fastcgi_temp_path $dir/fastcgi_temp;
    uwsgi_temp_path $dir/uwsgi_temp;
    scgi_temp_path $dir/scgi_temp;
EOF

    # TEST_OTP_HTTP2: the main port speaks HTTP/2 and every request but
    # raw bytes goes over it; raw HTTP/1.1 (a pipeline, a body in parts)
    # goes to a second, HTTP/1.1 listener of the same server
    $self->{h2_port} = $self->{h2} &&
        $text =~ s{^(\s*)listen\s+127\.0\.0\.1:%%PORT%%\s*;}
                  {$1listen 127.0.0.1:%%PORT%% http2;\n$1listen 127.0.0.1:%%PORT_H1%%;}m;

    $text =~ s/%%GLOBALS%%/$globals/g;
    $text =~ s/%%HTTP_GLOBALS%%/$http_globals/g;
    $text =~ s/%%STORE%%/$store_conf/g;
    $text =~ s/%%PREFIX%%/$dir/g;
    $text =~ s/%%MODULE%%/$self->{module} \/\/ ''/ge;
    $text =~ s/%%SECRET%%/$dir\/otp.key/g;
    $text =~ s/%%TOKEN_KEY%%/$dir\/token.key/g;
    $text =~ s/%%(PORT\d*|PORT_H1|REDIS_PORT)%%/$self->port($1)/ge;

    die "unknown substitution $1 in nginx.conf\n" if $text =~ /(%%\w+%%)/;

    $self->write_file('nginx.conf', $text);

    return $self;
}

# The store the current configuration uses.

# Writes a configuration as write_config() does and returns what
# `nginx -t` says of it (stdout and stderr), for directives it must refuse.

sub check_config {
    my ($self, $text, %opts) = @_;

    $self->write_config($text, %opts);

    my $dir = $self->{dir};

    return scalar `$self->{nginx} -t -p $dir/ -c $dir/nginx.conf 2>&1`;
}

sub store { $_[0]{store} || 'shm' }

###############################################################################

# Starts nginx (and Redis first when the configuration uses it); dies with
# the end of error.log when nginx does not come up.  With Redis, waits until
# every worker has connected, unless store_wait => 0.

sub run {
    my ($self, %opts) = @_;

    die "nginx is already running\n" if $self->{pid};

    $self->start_redis
        if $self->store eq 'redis' && !$self->{redis_pid}
           && !$self->{redis_of};

    my $dir = $self->{dir};

    unlink "$dir/nginx.pid";
    $self->{log_offset} = -s "$dir/error.log" || 0;

    my $pid = fork() // die "fork: $!";

    if ($pid == 0) {
        _die_with_parent();
        open STDOUT, '>>', "$dir/nginx.stdout";
        open STDERR, '>&', \*STDOUT;
        exec($self->{nginx}, '-p', "$dir/", '-c', "$dir/nginx.conf",
             '-e', "$dir/error.log")
            or _exit(127);
    }

    $running{$pid} = 'nginx';
    $self->{pid} = $pid;

    my $port = $self->{ports}{PORT};
    my $deadline = time + 10;

    while (time < $deadline) {

        if (waitpid($pid, WNOHANG) == $pid) {
            delete $running{$pid};
            $self->{pid} = undef;
            die "nginx exited at start (status $?):\n" . $self->_start_log;
        }

        if (-s "$dir/nginx.pid" && (!$port || _accepts($port))
            && scalar(my @w = $self->worker_pids) >= $self->_workers_wanted)
        {
            $self->{workers} = [ $self->worker_pids ];
            $self->_wait_redis_clients($deadline)
                if $self->store eq 'redis' && ($opts{store_wait} // 1);
            return $self;
        }

        sleep 0.05;
    }

    $self->stop;
    die "nginx did not start in 10 s:\n" . $self->_start_log;
}

# the workers the configuration asks for (none without a master)
sub _workers_wanted {
    my ($self) = @_;

    my $conf = $self->read_file('nginx.conf');

    return 0 if $conf =~ /^\s*master_process\s+off\s*;/m;
    return $1 if $conf =~ /^\s*worker_processes\s+(\d+)\s*;/m;
    return 1;
}

sub _start_log {
    my ($self) = @_;

    my $log = $self->read_file('error.log');
    $log = substr($log, $self->{log_offset})
        if length $log > $self->{log_offset};

    my @lines = grep { !/\[debug\]/ } split /\n/, $log;
    @lines = @lines[-20 .. -1] if @lines > 20;

    return join("\n", @lines, $self->read_file('nginx.stdout'));
}

sub _accepts {
    my ($port) = @_;

    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                  Timeout => 1);
    return 0 unless $s;
    close $s;
    return 1;
}

# Stops nginx gracefully (QUIT), then with TERM, then KILL.

sub stop {
    my ($self) = @_;

    my $pid = $self->{pid} or return $self;

    _stop_nginx($pid, [ 'QUIT', 10 ], [ 'TERM', 5 ], [ 'KILL', 5 ]);

    $self->{pid} = undef;
    $self->{workers} = [];

    return $self;
}

# a master that had to be killed leaves its workers: they go too
sub _stop_nginx {
    my ($pid, @steps) = @_;

    my @workers = _children($pid);

    _stop_pid($pid, @steps);

    for my $w (grep { kill 0, $_ } @workers) {
        Test::More::diag("worker $w outlived its master");
        kill 'KILL', $w;
    }
}

sub _stop_pid {
    my ($pid, @steps) = @_;

    for my $step (@steps) {
        my ($sig, $wait) = @$step;

        kill $sig, $pid;
        kill 'CONT', $pid;    # a stopped process would not see the signal

        my $deadline = time + $wait;

        while (time < $deadline) {
            my $rc = waitpid($pid, WNOHANG);

            if ($rc == $pid || ($rc == -1 && $! == ECHILD)) {
                delete $running{$pid};
                return 1;
            }

            sleep 0.02;
        }

        Test::More::diag("pid $pid ignored $sig for $wait s")
            if $sig ne 'KILL';
    }

    delete $running{$pid};
    return 0;
}

# The master's worker processes, from /proc.

sub worker_pids {
    my ($self) = @_;

    return $self->{pid} ? _children($self->{pid}) : ();
}

sub _children {
    my ($master) = @_;

    my @pids;

    opendir my $dh, '/proc' or return ();

    for my $p (grep { /^\d+$/ } readdir $dh) {
        open my $fh, '<', "/proc/$p/stat" or next;
        my $stat = <$fh> // '';
        close $fh;

        # pid (comm) state ppid ...; comm may hold spaces and parentheses
        next unless $stat =~ /\)\s+(\S)\s+(\d+)/;
        push @pids, $p if $2 == $master && $1 ne 'Z';
    }

    closedir $dh;

    @pids = sort { $a <=> $b } @pids;

    return @pids;
}

# nginx -s reload: HUP to the master, then wait until only new workers are
# left (the old ones finish and exit) and the port accepts.

sub reload {
    my ($self) = @_;

    my $pid = $self->{pid} or die "nginx is not running\n";
    my %old = map { $_ => 1 } $self->worker_pids;

    kill 'HUP', $pid;

    my $deadline = time + 10;

    while (time < $deadline) {
        my @now = $self->worker_pids;
        my @new = grep { !$old{$_} } @now;

        if (@new >= $self->_workers_wanted && @new == @now) {
            $self->{workers} = \@now;
            return $self if _accepts($self->{ports}{PORT});
        }

        sleep 0.05;
    }

    die "nginx did not reload in 10 s:\n" . $self->_start_log;
}

###############################################################################

# A real redis-server on a free loopback port of its own, with no
# persistence.  restart_redis comes back on the same port.

sub start_redis {
    my ($self) = @_;

    my $bin = $self->{redis_bin} or do {
        Test::More::plan(skip_all => 'redis-server not found')
            unless Test::More->builder->has_plan;
        die "redis-server not found\n";
    };

    die "redis is already running\n" if $self->{redis_pid};

    my $port = $self->port('REDIS_PORT');
    my $dir = $self->{dir};

    my $pid = fork() // die "fork: $!";

    if ($pid == 0) {
        _die_with_parent();
        open STDOUT, '>>', "$dir/redis.log";
        open STDERR, '>&', \*STDOUT;
        exec($bin, '--port', $port, '--bind', '127.0.0.1', '--save', '',
             '--appendonly', 'no', '--dir', $dir, '--daemonize', 'no')
            or _exit(127);
    }

    $running{$pid} = 'redis';
    $self->{redis_pid} = $pid;

    my $deadline = time + 10;

    while (time < $deadline) {

        if (waitpid($pid, WNOHANG) == $pid) {
            delete $running{$pid};
            $self->{redis_pid} = undef;
            die "redis-server exited at start:\n"
                . $self->read_file('redis.log');
        }

        return $self if $self->redis_ping;

        sleep 0.05;
    }

    die "redis-server did not answer PING in 10 s\n";
}

# Waits until Redis lists one connection per worker (of this nginx and of
# those sharing its Redis), each past its handshake (its last command a
# SCRIPT LOAD or a script), so that a test's first request does not race
# the workers' connect.  The workers' subscribers (connected on a first
# long-poll, their last command a SUBSCRIBE) are not counted.

sub _wait_redis_clients {
    my ($self, $deadline) = @_;

    my $n = 0;

    for my $t ($self, $self->{redis_of} || ()) {
        next unless $t->{pid};
        my @w = $t->worker_pids;
        $n += @w || 1;
    }

    while (time < $deadline) {
        my @clients = grep { !/cmd=client\|list/ && !/cmd=subscribe\b/ }
                      split /\n/, $self->redis_command('CLIENT', 'LIST');
        my @ready = grep { /cmd=(script|evalsha|eval)\b/ } @clients;

        return 1 if @ready >= $n && @clients == @ready;

        sleep 0.02;
    }

    die "nginx workers did not connect to Redis:\n" . $self->_start_log;
}

# One command over RESP; the reply as text (bulk and status as they are,
# errors as "-ERR ...", arrays joined by newlines).

sub redis_command {
    my ($self, @args) = @_;

    my $s = IO::Socket::INET->new(
        PeerAddr => "127.0.0.1:$self->{ports}{REDIS_PORT}", Timeout => 1)
        or return undef;

    binmode $s;
    print $s '*' . scalar(@args) . "\r\n"
        . join('', map { '$' . length($_) . "\r\n$_\r\n" } @args);

    my $sel = IO::Select->new($s);
    my $in = '';
    my $deadline = time + 2;

    while (time < $deadline && $sel->can_read($deadline - time)) {
        my $n = sysread($s, $in, 65536, length $in);
        last unless $n;
        my $reply = _resp($in);
        if (defined $reply) {
            close $s;
            return $reply;
        }
    }

    close $s;
    return undef;
}

# a complete RESP reply in $in, as text; undef while incomplete
sub _resp {
    my ($in) = @_;

    my ($reply) = _resp_one($in);

    return $reply;
}

sub _resp_one {
    my ($in) = @_;

    my $nl = index($in, "\r\n");
    return () if $nl < 0;

    my ($type, $line) = (substr($in, 0, 1), substr($in, 1, $nl - 1));
    my $rest = substr($in, $nl + 2);

    if ($type eq '+' || $type eq ':') {
        return ($line, $rest);
    }

    if ($type eq '-') {
        return ("-$line", $rest);
    }

    if ($type eq '$') {
        return ('', $rest) if $line < 0;
        return () if length $rest < $line + 2;
        return (substr($rest, 0, $line), substr($rest, $line + 2));
    }

    if ($type eq '*') {
        my @items;
        for (1 .. $line) {
            my ($item, $r) = _resp_one($rest);
            return () unless defined $item;
            push @items, $item;
            $rest = $r;
        }
        return (join("\n", @items), $rest);
    }

    return ();
}

sub stop_redis {
    my ($self) = @_;

    my $pid = $self->{redis_pid} or return $self;

    _stop_pid($pid, [ 'TERM', 10 ], [ 'KILL', 5 ]);

    $self->{redis_pid} = undef;

    return $self;
}

sub restart_redis {
    my ($self) = @_;

    $self->stop_redis;
    return $self->start_redis;
}

sub redis_ping {
    my ($self) = @_;

    return (($self->redis_command('PING') // '') eq 'PONG') ? 1 : 0;
}

###############################################################################

# HTTP.  Every request is a fresh connection with "Connection: close" read
# to EOF: a hang or a missing final chunk shows as a timeout (status 0),
# which a forgiving client would hide.  The answer is a hash:
#   { status, headers => { lower-case name => value (joined by ", ") },
#     header_list => [ [name, value], ... ], body, json (undef if not) }

sub post_form {
    my ($self, $path, $fields, %opts) = @_;

    $self->_record($fields);

    my $body = ref $fields
        ? join('&', map { _esc($_) . '=' . _esc($fields->{$_}) }
                    sort keys %$fields)
        : $fields;

    return $self->post($path, 'application/x-www-form-urlencoded', $body,
                       %opts);
}

sub post_json {
    my ($self, $path, $data, %opts) = @_;

    $self->_record($data);

    my $body = ref $data ? JSON::PP->new->canonical->encode($data) : $data;

    return $self->post($path, 'application/json', $body, %opts);
}

# POST with any content type (undef: no Content-Type header at all)

sub post {
    my ($self, $path, $type, $body, %opts) = @_;

    my $headers = { %{ delete $opts{headers} || {} } };
    $headers->{'Content-Type'} = $type if defined $type;

    return $self->http(POST => $path, $body, %opts, headers => $headers);
}

sub get {
    my ($self, $path, %opts) = @_;

    return $self->http(GET => $path, undef, %opts);
}

sub http {
    my ($self, $method, $path, $body, %opts) = @_;

    return $self->_h2($method, $path, $body, %opts)
        if $opts{h2} // ($self->{h2_port} && !$opts{port});

    my $req = "$method $path HTTP/1.1\r\nHost: localhost\r\n"
        . "Connection: close\r\n";

    my $h = $opts{headers} || {};
    $req .= "$_: $h->{$_}\r\n" for sort keys %$h;

    if (defined $body) {
        $req .= "Content-Length: " . length($body) . "\r\n";
    }

    $req .= "\r\n";
    $req .= $body if defined $body;

    return $self->raw($req, %opts);
}

# HTTP/2 (opts h2 => 1 to any method above): cleartext with prior
# knowledge, to a `listen ... http2;` port.  Core Perl speaks no h2, so a
# client does it: nghttp (nghttp2-client; scripts/install-deps), which
# reads an answer that comes before the whole body went (nginx's early 400
# or 413 and RST_STREAM NO_ERROR, RFC 9113 8.1), where curl 7.88 drops it
# with error 92 now and then.  opts{no_length}: no content-length, the
# body in DATA frames alone.  With opts{parts} (a list of strings) instead
# of a body, curl sends it (-T -, no length) from a pipe the harness feeds
# part by part, opts{delay} seconds apart (default 0.2): a body arriving
# slowly in several frames; for bodies nginx reads to the end (the race
# above).  The same answer hash, with http_version.

sub _h2 {
    my ($self, $method, $path, $body, %opts) = @_;

    my $n = ++$self->{h2_requests};
    my $f = "$self->{dir}/h2-$n";
    my $url = 'http://127.0.0.1:' . ($opts{port} || $self->{ports}{PORT})
              . $path;
    my $timeout = $opts{timeout} || 10;
    my $parts = $opts{parts};
    my %h = %{ $opts{headers} || {} };
    my @cmd;

    if ($parts) {
        @cmd = (_which('curl') || 'curl', '-sS', '--http2-prior-knowledge',
                '--max-time', $timeout, '-X', $method, '-T', '-',
                '-D', "$f.headers", '-o', "$f.body", $url,
                map { ('-H', defined $h{$_} ? "$_: $h{$_}" : "$_:") }
                sort keys %h);

    } else {
        @cmd = (_which('nghttp') || 'nghttp', '-t', $timeout, '-r', "$f.har",
                '-H', ":method: $method", $url,
                map { ('-H', "$_: $h{$_}") } grep { defined $h{$_} }
                sort keys %h);

        if (defined $body) {
            $self->write_file("h2-$n.request", $body);
            push @cmd, '-d', "$f.request";
            push @cmd, '--no-content-length' if $opts{no_length};
        }
    }

    pipe(my $in_r, my $in_w) or die "pipe: $!";

    my $pid = fork() // die "fork: $!";

    if ($pid == 0) {
        close $in_w;
        open STDIN, '<&', $in_r or _exit(127);
        open STDOUT, '>', $parts ? "$f.out" : "$f.body" or _exit(127);
        open STDERR, '>', "$f.err" or _exit(127);
        exec(@cmd) or _exit(127);
    }

    close $in_r;

    local $SIG{PIPE} = 'IGNORE';

    for my $i (0 .. $#{ $parts || [] }) {
        sleep($opts{delay} // 0.2) if $i;
        syswrite($in_w, $parts->[$i]);
    }

    close $in_w;
    waitpid($pid, 0);

    my $error = $? ? "$cmd[0] exit " . ($? >> 8) . ': '
                     . $self->read_file("h2-$n.err") : undef;

    $body = $self->read_file("h2-$n.body");

    my ($status, $version, @list);

    if ($parts) {
        # the last header block (after any 1xx)
        my @blocks = grep { /\S/ } split /\r?\n\r?\n/,
                     $self->read_file("h2-$n.headers");
        my ($line, @lines) = split /\r?\n/, $blocks[-1] // '';

        ($version, $status) = ($line // '') =~ m{^HTTP/(\S+) (\d{3})};
        push @list, map { /^([^:]+):\s*(.*)$/ ? [ $1, $2 ] : () } @lines;

    } else {
        my $har = eval { JSON::PP->new->decode($self->read_file("h2-$n.har")) };
        my $res = $har ? $har->{log}{entries}[0]{response} : undef;

        if ($res) {
            $status = $res->{status};
            ($version = $res->{httpVersion} // '') =~ s{^HTTP/(\d)\.0$}{$1};
            push @list, map { [ $_->{name}, $_->{value} ] }
                        grep { $_->{name} !~ /^:/ } @{ $res->{headers} };
        }
    }

    return _no_response($error || 'no answer', $body) unless $status;

    my %headers;

    for (@list) {
        my ($k, $v) = (lc $_->[0], $_->[1]);
        $headers{$k} = exists $headers{$k} ? "$headers{$k}, $v" : $v;
    }

    return { status => $status, headers => \%headers, header_list => \@list,
             body => $body,
             json => scalar eval { JSON::PP->new->decode($body) },
             raw => join('', map { "$_->[0]: $_->[1]\n" } @list) . "\n$body",
             http_version => $version, error => $error };
}

# Sends bytes as they are and parses the answer.  $req may be a list of
# parts, written one by one with opts{delay} seconds between them (a body
# that arrives slowly).  With opts{all}, returns every response the
# connection carried (pipelining), in a list.

sub raw {
    my ($self, $req, %opts) = @_;

    my $port = $opts{port}
               || $self->{ports}{ $self->{h2_port} ? 'PORT_H1' : 'PORT' };
    my $timeout = $opts{timeout} || 10;
    my @parts = ref $req ? @$req : ($req);

    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                  Timeout => $timeout)
        or return _no_response("connect: $!", '', %opts);

    binmode $s;
    local $SIG{PIPE} = 'IGNORE';

    my $sel = IO::Select->new($s);
    my $deadline = time + $timeout;
    my ($in, $err) = ('', undef);

    # write and read together: nginx may answer (413, 400) before it has
    # read a large body, and then close
    while (@parts > 1) {
        _exchange($s, $sel, shift @parts, \$in, time + $timeout);
        sleep($opts{delay} || 0.1);
    }

    $err = _exchange($s, $sel, $parts[0], \$in, $deadline, 1);

    close $s;

    my @res;
    my $rest = $in;

    while (length $rest) {
        my ($res, $r) = _parse_response($rest);
        last unless $res;
        push @res, $res;
        $rest = $r;
    }

    if (!@res) {
        return _no_response($err || (time >= $deadline ? 'timeout'
                                                       : 'bad response'),
                            $in, %opts);
    }

    $_->{raw} = $in for @res;

    return $opts{all} ? @res : $res[0];
}

sub _no_response {
    my ($error, $in, %opts) = @_;

    my $r = { status => 0, headers => {}, body => '', raw => $in,
              error => $error };

    return $opts{all} ? ($r) : $r;
}

# writes $out while reading into $$in; with $to_eof, reads until the peer
# closes; returns an error text or undef
sub _exchange {
    my ($s, $sel, $out, $in, $deadline, $to_eof) = @_;

    my $off = 0;

    while (time < $deadline) {
        my $want_w = $off < length $out;

        return undef if !$want_w && !$to_eof;

        my ($r, $w) = IO::Select->select($sel, $want_w ? $sel : undef, undef,
                                         $deadline - time);
        last unless $r || $w;

        if ($w && @$w) {
            my $n = syswrite($s, $out, 65536, $off);
            # the peer closed: read what it said
            $off = defined $n ? $off + $n : length $out;
        }

        if ($r && @$r) {
            my $n = sysread($s, $$in, 65536, length $$in);
            return undef if defined $n && $n == 0;
            return "read: $!" unless defined $n;
        }
    }

    return 'timeout';
}

# one response from the front of $in: (response, the rest), or () while
# incomplete
sub _parse_response {
    my ($in) = @_;

    my $end = index($in, "\r\n\r\n");
    return () if $end < 0;

    my ($status_line, @lines) = split /\r\n/, substr($in, 0, $end);
    my $body = substr($in, $end + 4);
    my $rest = '';

    return () unless $status_line =~ m{^HTTP/1\.[01] (\d{3})};
    my $status = $1;

    my (%headers, @list);

    for (@lines) {
        my ($k, $v) = /^([^:]+):\s*(.*)$/ or next;
        push @list, [ $k, $v ];
        $k = lc $k;
        $headers{$k} = exists $headers{$k} ? "$headers{$k}, $v" : $v;
    }

    if (($headers{'transfer-encoding'} || '') =~ /chunked/i) {
        my $out = '';
        while (1) {
            $body =~ s/^([0-9a-fA-F]+)[^\r\n]*\r\n// or return ();
            my $n = hex $1;
            if ($n == 0) {
                $body =~ s/^\r\n//;
                last;
            }
            return () if length $body < $n + 2;
            $out .= substr($body, 0, $n);
            substr($body, 0, $n + 2) = '';
        }
        $rest = $body;
        $body = $out;

    } elsif (defined $headers{'content-length'}) {
        my $len = $headers{'content-length'};
        return () if length $body < $len;
        $rest = substr($body, $len);
        $body = substr($body, 0, $len);
    }

    my $json = eval { JSON::PP->new->decode($body) };

    return ({ status => $status, headers => \%headers, header_list => \@list,
              body => $body, json => $json }, $rest);
}

sub _esc {
    my ($s) = @_;

    $s = '' unless defined $s;
    $s =~ s/([^A-Za-z0-9\-._~])/sprintf('%%%02X', ord $1)/ge;

    return $s;
}

# Runs $n clients at once: each is forked, waits on a pipe until all are
# ready, then makes its request ($request->($i), any of the methods above);
# returns the answers (status, json) in the order they came.

sub concurrently {
    my ($self, $n, $request) = @_;

    pipe(my $go_r, my $go_w) or die "pipe: $!";
    pipe(my $res_r, my $res_w) or die "pipe: $!";

    my @pids;

    for my $i (1 .. $n) {
        my $pid = fork() // die "fork: $!";

        if ($pid == 0) {
            close $go_w;
            close $res_r;

            # the start: the parent closes its end of the pipe
            sysread($go_r, my $buf, 1);

            my $r = $request->($i);
            (my $body = $r->{body} // '') =~ s/\n//g;

            syswrite($res_w, "$r->{status} $body\n");
            _exit(0);
        }

        push @pids, $pid;
    }

    close $go_r;
    close $res_w;
    close $go_w;

    my @answers;

    while (my $line = <$res_r>) {
        my ($status, $body) = $line =~ /^(\d+) (.*)$/ or next;
        push @answers, { status => $status,
                         json => eval { JSON::PP->new->decode($body) } };
    }

    close $res_r;
    waitpid($_, 0) for @pids;

    return @answers;
}

# Remembers the phones a test sends so that the log checks can look for
# them in clear; a test that puts a phone in a raw body names it here.

sub uses_phone {
    my ($self, @phones) = @_;

    for my $p (@phones) {
        next unless defined $p;
        my $d = $p;
        $d =~ s/\D//g;
        $d =~ s/^00//;
        $self->{phones}{$d} = $p if length $d >= 8;
    }

    return $self;
}

# ... and the codes it submits (of 6 digits and more, see check_log), for
# a guess in a log is as bad as the code itself; uses_code names those a
# client other than the harness (a browser) submitted.

sub uses_code {
    my ($self, @codes) = @_;

    $self->_record({ code => $_ }) for @codes;

    return $self;
}

sub _record {
    my ($self, $data) = @_;

    return unless ref $data eq 'HASH';

    $self->uses_phone($data->{phone})
        if defined $data->{phone} && !ref $data->{phone};

    $self->{guesses}{ $data->{code} } = 1
        if defined $data->{code} && !ref $data->{code}
           && $data->{code} =~ /^\d{6,}$/;
}

###############################################################################

# The code the log provider printed for a message id (polls error.log for
# up to 3 s); undef when there is none.

my $provider_re = qr/otp log provider \(DEVELOPMENT ONLY\): /
                   . qr/code (\d+) for (\S+) via (\w+), message_id ([^\s,]+)/;
$provider_re = qr/$provider_re/;

sub code_for {
    my ($self, $id) = @_;

    my $sent = $self->sent($id) or return undef;

    return $sent->{code};
}

# The provider's line for a message id, as a hash (code, to, channel, id),
# polling error.log for up to 3 s; undef when there is none.

sub sent {
    my ($self, $id) = @_;

    return undef unless defined $id;

    my $deadline = time + 3;

    while (1) {
        $self->_scan_log;

        return $self->{sent}{$id} if $self->{sent}{$id};
        return undef if time > $deadline;

        sleep 0.02;
    }
}

# reads the provider lines error.log gained since the last call
sub _scan_log {
    my ($self) = @_;

    open my $fh, '<:raw', "$self->{dir}/error.log" or return;
    seek $fh, $self->{scan_offset} || 0, 0;

    while (my $line = <$fh>) {
        last unless $line =~ /\n$/;    # a line still being written
        $self->{scan_offset} = tell $fh;

        next unless $line =~ /$provider_re/;

        $self->{codes}{$1} = 1;
        $self->{sent}{$4} = { code => $1, to => $2, channel => $3, id => $4 };
    }

    close $fh;
}

# Sends a code and returns (response, code).

sub send_code {
    my ($self, $path, $fields, %opts) = @_;

    my $r = $self->post_form($path, $fields, %opts);
    my $code = $r->{status} == 202 && $r->{json}
        ? $self->code_for($r->{json}{message_id}) : undef;

    return ($r, $code);
}

###############################################################################

# Ends a file: stops nginx and Redis, then the implicit checks.

sub done {
    my ($self) = @_;

    $self->stop;
    $self->stop_redis;
    $self->check_log;

    return $self;
}

sub check_log {
    my ($self) = @_;

    my $log = $self->read_file('error.log');
    my $access = $self->read_file('access.log');

    my (%codes, @other);

    for (split /\n/, $log) {
        if (/$provider_re/) {
            $codes{$1} = 1;
            next;
        }
        push @other, $_;
    }

    # with a shared store, the codes the other instance sent too
    %codes = (%codes, %{$self->{codes}}, %{ $self->{guesses} || {} },
              $self->{redis_of} ? %{ $self->{redis_of}{codes} } : ());

    # 1: nothing went badly wrong
    my @bad = grep { /\[(alert|emerg|crit)\]/
                     || /signal 11|core dumped|exited on signal/ } @other;
    _none(\@bad, 'no alerts, no crashes in error.log');

    # 2: phones only ever masked
    my @phones = sort keys %{$self->{phones}};
    my $phone_re = _digits_re(@phones);
    my @leak = grep { /$phone_re/ } split /\n/, $log;
    _none(\@leak, 'no unmasked phone number in error.log ('
                  . scalar(@phones) . ' numbers)');

    # 3: codes only on the log provider's own lines.  Debug lines are full
    # of sizes and counters: there only codes of 6 digits and more are
    # looked for, so that a 4-digit size is not taken for a code, and
    # nginx's own system-call traces ("recv: avail:785355", "write: 12,
    # 00007F.., 524288, 0"), which hold only counts and addresses, are not
    # read at all: with a body of a megabyte they hold hundreds of 6-digit
    # numbers, and one of them was now and then a code of the file.
    my @c = sort keys %codes;
    my $code_re = _digits_re(@c);
    my $long_re = _digits_re(grep { length $_ >= 6 } @c);
    my $io_re = qr/^(?:recv|send|read|readv|write|writev|sendfile|malloc
                      |posix_memalign|memalign|free):\s[^"'=]*$/x;
    my @code_leak = grep {
        my $l = _strip($_);
        /\[debug\]/ ? $l !~ $io_re && $l =~ $long_re : $l =~ $code_re
    } @other;
    _none(\@code_leak, 'no code in error.log but on the provider lines ('
                       . scalar(@c) . ' codes)');

    # 4: the access log, which nobody reads with care
    my $any_re = _digits_re(@phones, @c);
    my @acc = grep { /$any_re/ } split /\n/, $access;
    _none(\@acc, 'no phone number or code in access.log');

    # 5: a build with -fsanitize=... (OTP_CFLAGS, an nginx built so) lets
    # the process run on after a report, or dies where nobody looks: read
    # nginx's stderr (nginx.stdout, until nginx redirects its stderr) and
    # error.log (after), where the reports land
    my @san = sanitizer_reports($self->read_file('nginx.stdout'), $log);
    _none(\@san, 'no sanitizer report in nginx\'s stderr or error.log');
}

# The lines of some texts that belong to a sanitizer's report:
# "==PID==ERROR: AddressSanitizer: ..." (LeakSanitizer, MemorySanitizer
# alike), "WARNING: ThreadSanitizer: ...", UndefinedBehaviorSanitizer's
# "file.c:L:C: runtime error: ..." and the "SUMMARY: ...Sanitizer" lines.

my $sanitizer_re = qr/
      (?:^|==\d+==\s*) (?:ERROR|WARNING): \s* \w+Sanitizer
    | \bSUMMARY: \s* \w+Sanitizer
    | :\s runtime\ error: \s
/x;

sub sanitizer_reports {
    my (@texts) = @_;

    return grep { /$sanitizer_re/ }
           map { split /\n/ } grep { defined } @texts;
}

# one regexp for any of these digit strings, standing alone
sub _digits_re {
    my (@digits) = @_;

    return qr/(?!)/ unless @digits;

    my $alt = join '|', map { quotemeta } sort { length $b <=> length $a }
                                          @digits;

    return qr/(?<![0-9A-Za-z])\+?(?:$alt)(?![0-9A-Za-z])/;
}

# the line without its "time [level] pid#tid: *conn" prefix
sub _strip {
    my ($l) = @_;
    $l =~ s/^\S+ \S+ \[\w+\] \d+#\d+: (\*\d+ )?//;
    return $l;
}

sub _none {
    my ($lines, $name) = @_;

    local $Test::Builder::Level = $Test::Builder::Level + 2;

    my $ok = Test::More::ok(!@$lines, $name);

    if (!$ok) {
        my @show = @$lines > 10 ? @$lines[0 .. 9] : @$lines;
        Test::More::diag(join "\n", @show);
    }

    return $ok;
}

sub DESTROY {
    my ($self) = @_;

    return unless $$ == $creator;

    local ($?, $!, $@);
    $self->stop;
    $self->stop_redis;
}

END {
    if ($$ == $creator) {
        local $?;
        for my $pid (keys %running) {
            _stop_nginx($pid, [ 'TERM', 5 ], [ 'KILL', 5 ]);
        }
    }
}

$SIG{INT} = $SIG{TERM} = $SIG{HUP} = sub { exit 1 } if $$ == $creator;

# In a child about to exec nginx or redis-server: prctl(PR_SET_PDEATHSIG,
# SIGTERM), so that it goes when the test process goes, even killed with
# SIGKILL, when no END block runs (nginx's master takes its workers along).
# Linux only, by syscall number; elsewhere END must do.

sub _die_with_parent {
    my %prctl = ('x86_64-linux' => 157, 'aarch64-linux' => 167,
                 'i686-linux' => 172, 'i386-linux' => 172);

    my ($arch) = $Config{archname} =~ /^(\w+-linux)/ or return;
    my $nr = $prctl{$arch} or return;

    syscall($nr, 1, 15);

    # the parent may have gone before the call
    _exit(1) if getppid() == 1;
}

###############################################################################

# Expectations.  response_is($r, $status, \%body, $name, \%headers) checks
# the status, that the body is one JSON object of application/json, that it
# has exactly the given keys, and each value: a string is compared as a JSON
# string, a regexp matches a JSON string, int_in(lo, hi) / number(n) want a
# JSON integer, true / false a JSON boolean, a code ref returns true.
# Headers: name => string, regexp, or undef (must be absent).

sub int_in {
    my ($lo, $hi) = @_;
    return bless { lo => $lo, hi => $hi }, 'OtpTest::Int';
}

sub number { int_in($_[0], $_[0]) }

sub any_string { qr/./s }

sub true { JSON::PP::true }
sub false { JSON::PP::false }

sub response_is {
    my ($r, $status, $want, $name, $headers) = @_;

    local $Test::Builder::Level = $Test::Builder::Level + 1;

    my @err;

    push @err, "status $r->{status}, want $status"
        . ($r->{error} ? " ($r->{error})" : '')
        if $r->{status} != $status;

    if (defined $want) {
        my $ct = $r->{headers}{'content-type'} // '';

        push @err, "content-type \"$ct\""
            unless $ct eq 'application/json; charset=utf-8';

        if (ref $r->{json} ne 'HASH') {
            push @err, 'body is not a JSON object';

        } else {
            push @err, _match_object($r->{json}, $want, $r->{body});
        }
    }

    for my $k (sort keys %{ $headers || {} }) {
        my $got = $r->{headers}{lc $k};
        my $exp = $headers->{$k};

        if (!defined $exp) {
            push @err, "header $k present: $got" if defined $got;
        } elsif (!defined $got) {
            push @err, "header $k missing";
        } elsif (ref $exp eq 'Regexp' ? $got !~ $exp
                 : ref $exp eq 'CODE' ? !$exp->($got, $r)
                 : $got ne $exp)
        {
            push @err, "header $k: \"$got\"";
        }
    }

    my $ok = Test::More->builder->ok(!@err, $name);

    if (!$ok) {
        Test::More->builder->diag(join("\n", @err) . "\n--- response:\n"
                                  . _show($r));
    }

    return $ok;
}

sub _show {
    my ($r) = @_;

    my $raw = $r->{raw} // '';
    $raw = substr($raw, 0, 2000) . '...' if length $raw > 2000;
    $raw =~ s/\r//g;

    return $raw;
}

sub _match_object {
    my ($got, $want, $raw) = @_;

    my @err;

    for my $k (sort keys %$want) {
        if (!exists $got->{$k}) {
            push @err, "no \"$k\"";
            next;
        }

        my ($g, $w) = ($got->{$k}, $want->{$k});

        if (blessed $w && $w->isa('OtpTest::Int')) {
            push @err, "\"$k\" is not a JSON integer in [$w->{lo}, $w->{hi}]"
                unless defined $g && !ref $g
                       && $raw =~ /"\Q$k\E"\s*:\s*-?\d+\s*[,}]/
                       && $g >= $w->{lo} && $g <= $w->{hi};

        } elsif (JSON::PP::is_bool($w)) {
            push @err, "\"$k\" is not the JSON boolean "
                       . ($w ? 'true' : 'false')
                unless JSON::PP::is_bool($g) && !!$g == !!$w;

        } elsif (ref $w eq 'CODE') {
            push @err, "\"$k\" is wrong" unless $w->($g);

        } elsif (ref $w eq 'Regexp') {
            push @err, "\"$k\" is not a string like $w"
                unless defined $g && !ref $g && !JSON::PP::is_bool($g)
                       && $raw =~ /"\Q$k\E"\s*:\s*"/ && $g =~ $w;

        } elsif (ref $w eq 'ARRAY' || ref $w eq 'HASH') {
            push @err, "\"$k\" differs"
                unless JSON::PP->new->canonical->encode([$g])
                       eq JSON::PP->new->canonical->encode([$w]);

        } else {
            push @err, "\"$k\" is not the JSON string \"$w\""
                unless defined $g && !ref $g && !JSON::PP::is_bool($g)
                       && $raw =~ /"\Q$k\E"\s*:\s*"/ && $g eq $w;
        }
    }

    for my $k (sort keys %$got) {
        push @err, "unexpected \"$k\"" unless exists $want->{$k};
    }

    return @err;
}

###############################################################################

# A JWT's parts: (header, claims, signature ok) with the token key given;
# dies on anything that is not three base64url parts of JSON.

sub jwt_decode {
    my ($token, $key) = @_;

    my @parts = split /\./, $token, -1;
    die "not three parts\n" unless @parts == 3;
    die "not base64url\n" if grep { !/^[A-Za-z0-9_-]+$/ } @parts;

    my $dec = sub {
        my $s = shift;
        $s =~ tr{-_}{+/};
        $s .= '=' x ((4 - length($s) % 4) % 4);
        return decode_base64($s);
    };

    my $header = JSON::PP->new->decode($dec->($parts[0]));
    my $claims = JSON::PP->new->decode($dec->($parts[1]));

    my $sig_ok;

    if (defined $key) {
        my $mac = encode_base64(hmac_sha256("$parts[0].$parts[1]", $key), '');
        $mac =~ tr{+/}{-_};
        $mac =~ s/=+$//;
        $sig_ok = $mac eq $parts[2];
    }

    return ($header, $claims, $sig_ok);
}

1;
