#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# Fuzz harnesses of the pure core (t/fuzz): the replay drivers, built with
# the C compiler and ASan, run over the seed corpus plus generated inputs;
# then, where clang has libFuzzer, each harness is fuzzed for
# OTP_FUZZ_SECONDS seconds (default 10, 0 skips it).

###############################################################################

use warnings;
use strict;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use POSIX qw(setsid);
use Test::More;

###############################################################################

my $dir = abs_path(dirname(__FILE__)) . '/fuzz';
my @harnesses = qw/phone fields jwt provider_wire redis_info redis_cluster
	hook_twilio hook_meta hook_africastalking stdwh twilio_sig fallback
	sentinel price analytics/;

my $seconds = $ENV{OTP_FUZZ_SECONDS} // 10;

# a hung build or fuzzer must not hang the suite
my $build_limit = 300;
my $grace = 60;

$ENV{UBSAN_OPTIONS} //= 'print_stacktrace=1';

my ($rc, $out) = run($build_limit, 'make', '-s', '-C', $dir, 'replays');

if ($rc != 0) {
	fail('replay drivers build');
	diag($out);
	done_testing();
	exit;
}

pass('replay drivers build');

for my $h (@harnesses) {
	($rc, $out) = run($grace, 'make', '-s', '-C', $dir, "replay-$h");

	note($out) if $rc == 0;
	is($rc, 0, "replay $h: corpus and generated inputs") or diag($out);
}

SKIP: {
	skip 'OTP_FUZZ_SECONDS=0', 1 + @harnesses if $seconds == 0;

	($rc, $out) = run($grace, 'make', '-s', '-C', $dir, 'have-libfuzzer');

	skip 'no clang with libFuzzer', 1 + @harnesses
		unless $rc == 0 && $out =~ /^yes$/m;

	($rc, $out) = run($build_limit, 'make', '-s', '-C', $dir, 'fuzzers');

	is($rc, 0, 'libFuzzer binaries build') or diag($out);

	for my $h (@harnesses) {
		($rc, $out) = run($seconds + $grace, 'make', '-s', '-C', $dir,
			"run-$h", "FUZZ_SECONDS=$seconds");

		is($rc, 0, "libFuzzer $h for $seconds s")
			or diag(join "\n", (split /\n/, $out)[-40 .. -1]);
		note($1) if $out =~ /^(Done \d+ runs in \d+ second.*)$/m;
	}
}

done_testing();

###############################################################################

# runs a command, stdout and stderr together, killed after $limit seconds

sub run {
	my ($limit, @cmd) = @_;

	my $pid = open(my $fh, '-|');
	die "fork: $!" unless defined $pid;

	if ($pid == 0) {
		# its own process group: a timeout kills make and what it runs
		setsid();
		open STDERR, '>&', \*STDOUT or die "dup: $!";
		exec @cmd or die "exec $cmd[0]: $!";
	}

	my $out = '';

	my $ok = eval {
		local $SIG{ALRM} = sub { die "timeout\n" };
		alarm($limit);
		local $/;
		$out = <$fh> // '';
		alarm(0);
		1;
	};

	if (!$ok) {
		kill 'KILL', -$pid;
		close $fh;
		return (-1, $out . "\nkilled after $limit s: @cmd\n");
	}

	close $fh;

	return ($?, $out);
}

###############################################################################
