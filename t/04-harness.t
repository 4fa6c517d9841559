#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# The harness itself (t/lib/OtpTest.pm), without nginx: the ports it hands
# out stay locked against every other harness while it lives, listened on
# or not; a sanitizer's report in nginx's stderr or error.log fails the
# file at teardown, as one of the implicit tests; and the code check there
# is not fooled by nginx's byte counts.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use File::Path ();
use File::Temp ();
use IO::Socket::INET;
use Test::More;
use OtpTest;

plan tests => 17;

###############################################################################

# Ports.  A range of 4 ports that are all free now: two harnesses confined
# to it (TEST_OTP_PORTS) must share it without overlap.

my $base;

for (1 .. 200) {
    my $b = 20000 + int rand 12000;
    my @l = map { IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                        LocalPort => $_, Proto => 'udp')
                  && IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                           LocalPort => $_, Proto => 'tcp',
                                           Listen => 1) }
            $b .. $b + 3;
    next if grep { !defined } @l;
    $base = $b;
    last;
}

die "no 4 free ports in a row\n" unless $base;

local $ENV{TEST_OTP_PORTS} = "$base-" . ($base + 3);
my %range = map { $_ => 1 } $base .. $base + 3;

# the first harness, in a process of its own (another prove -j job): it
# takes two ports, says which, and holds them (never listening) until told

pipe(my $said_r, my $said_w) or die "pipe: $!";
pipe(my $go_r, my $go_w) or die "pipe: $!";

my $pid = fork() // die "fork: $!";

if ($pid == 0) {
    close $said_r;
    close $go_w;

    my $t = OtpTest->new;
    my @p = ($t->port('PORT'), $t->port('REDIS_PORT'));

    syswrite($said_w, "@p\n");
    sysread($go_r, my $buf, 1);

    # _exit skips END, and with it File::Temp's cleanup
    my $dir = $t->dir;
    undef $t;
    File::Path::remove_tree($dir);

    POSIX::_exit(0);
}

close $said_w;
close $go_r;

my @held = split ' ', (<$said_r> // '');

is(scalar(grep { $range{$_} } @held), 2,
   'ports: a harness takes its ports from TEST_OTP_PORTS');

# the second harness, while the first holds its ports: it gets the other
# two, then none

my $t2 = OtpTest->new;
my @got = ($t2->port('PORT'), $t2->port('PORT2'));
my %held = map { $_ => 1 } @held;

is(scalar(grep { $range{$_} && !$held{$_} } @got), 2,
   'ports: another harness gets the two others')
    or diag("held @held, got @got");

isnt($got[0], $got[1], 'ports: two names, two ports');

is($t2->port('PORT'), $got[0], 'ports: a name keeps its port');

ok(!eval { $t2->port('PORT3'); 1 } && $@ =~ /no free port/,
   'ports: none left while the first harness holds its two');

# nobody listens on the held ports, and yet a third harness skips them

ok(!(grep { IO::Socket::INET->new(PeerAddr => "127.0.0.1:$_", Timeout => 1) }
     @held), 'ports: the held ports have no listener');

my $t3 = OtpTest->new;
ok(!eval { $t3->port; 1 }, 'ports: a third harness gets no held port');

# the first one ends: its locks go with the process

syswrite($go_w, 'x');
close $go_w;
waitpid($pid, 0);

my $t4 = OtpTest->new;
my @after = ($t4->port('A'), $t4->port('B'));
is(join(' ', sort @after), join(' ', sort @held),
   'ports: free again once the holder is gone');

undef $t2;
undef $t3;
undef $t4;

###############################################################################

# Sanitizer reports.  What the sanitizers print (abridged from real runs).

my $asan = <<'EOF';
=================================================================
==4242==ERROR: AddressSanitizer: heap-use-after-free on address 0x6020 at pc 0x7f sp 0x7ff
READ of size 8 at 0x602000000010 thread T0
    #0 0x7f12 in ngx_http_otp_body_filter src/ngx_http_otp_filter.c:180
SUMMARY: AddressSanitizer: heap-use-after-free src/ngx_http_otp_filter.c:180 in ngx_http_otp_body_filter
EOF

my $ubsan = "src/ngx_otp_code.c:41:17: runtime error: signed integer "
    . "overflow: 2147483647 + 1 cannot be represented in type 'int'\n";

my $lsan = <<'EOF';
==4243==ERROR: LeakSanitizer: detected memory leaks
Direct leak of 64 byte(s) in 1 object(s) allocated from:
SUMMARY: AddressSanitizer: 64 byte(s) leaked in 1 allocation(s).
EOF

my $clean = <<'EOF';
2026/11/30 13:00:00 [debug] 4244#4244: *1 http otp send: runtime 12ms
2026/11/30 13:00:00 [error] 4244#4244: *1 otp provider "tw": error: rejected
2026/11/30 13:00:00 [notice] 4244#4244: signal process started
EOF

# how many lines a text has flagged (undef: the harness cannot tell)
sub reports {
    my @texts = @_;
    return eval { scalar(my @r = OtpTest::sanitizer_reports(@texts)) };
}

is(reports($asan), 2,
   'sanitizer: AddressSanitizer report found (ERROR and SUMMARY lines)');
is(reports($ubsan), 1,
   'sanitizer: UndefinedBehaviorSanitizer runtime error found');
is(reports($lsan), 2,
   'sanitizer: LeakSanitizer report found');
is(reports($clean, undef), 0,
   'sanitizer: an ordinary error.log is clean');

# the teardown: a file whose nginx left a report fails; run as a test file
# of its own, its TAP output and exit status read here

sub teardown {
    my ($file, $text) = @_;

    my $dir = File::Temp::tempdir(CLEANUP => 1);

    open my $fh, '>', "$dir/teardown.t" or die "$dir: $!";
    print $fh <<'EOF';
use OtpTest;
my $t = OtpTest->new;
Test::More::plan(tests => OtpTest::IMPLICIT_TESTS);
$t->write_file($ENV{OTP_FAKE_FILE}, $ENV{OTP_FAKE_TEXT});
$t->done;
EOF
    close $fh;

    local $ENV{OTP_FAKE_FILE} = $file;
    local $ENV{OTP_FAKE_TEXT} = $text;

    my $tap = `$^X -I$FindBin::Bin/lib $dir/teardown.t 2>&1`;

    return ($? >> 8, $tap);
}

my ($rc, $tap) = teardown('nginx.stdout', $asan);
ok($rc != 0 && $tap =~ /^not ok \d+ - no sanitizer report/m,
   'teardown: a report in nginx\'s stderr fails the file') or diag($tap);

($rc, $tap) = teardown('error.log', "2026/11/30 13:00:00 [debug] 1#1: x\n"
                                    . $ubsan);
ok($rc != 0 && $tap =~ /^not ok \d+ - no sanitizer report/m,
   'teardown: a report in error.log fails the file') or diag($tap);

($rc, $tap) = teardown('error.log', $clean);
ok($rc == 0 && $tap =~ /^ok \d+ - no sanitizer report/m,
   'teardown: a clean log passes') or diag($tap);

# the code check: a code equal to a byte count in nginx's system-call
# trace is no leak; the same number on any other debug line is

my $sent = '2026/11/30 13:00:00 [notice] 7#7: *1 otp log provider '
    . '(DEVELOPMENT ONLY): code 785355 for +1******4567 via sms, '
    . "message_id log_0123\n";

($rc, $tap) = teardown('error.log', $sent
    . "2026/11/30 13:00:01 [debug] 7#7: *23 recv: eof:0, avail:785355\n"
    . "2026/11/30 13:00:01 [debug] 7#7: *23 write: 12, 00007F00, 785355, 0\n");
ok($rc == 0 && $tap =~ /^ok \d+ - no code in error.log/m,
   'teardown: a byte count equal to a code is no leak') or diag($tap);

($rc, $tap) = teardown('error.log', $sent
    . "2026/11/30 13:00:01 [debug] 7#7: *23 otp verify: code=785355\n");
ok($rc != 0 && $tap =~ /^not ok \d+ - no code in error.log/m,
   'teardown: a code on another debug line is one') or diag($tap);

###############################################################################
