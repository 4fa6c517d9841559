#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# Unit tests of the pure core (src/ngx_otp_*.c): builds t/unit, then runs
# each test program and passes its TAP through, one test per line.

###############################################################################

use warnings;
use strict;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use Test::More;

###############################################################################

my $dir = abs_path(dirname(__FILE__)) . '/unit';

# sanitizer reports are what a test is looking for: make them complete
$ENV{UBSAN_OPTIONS} //= 'print_stacktrace=1';

my $out = `make -s -C '$dir' 2>&1`;

if ($? != 0) {
	fail('unit tests build');
	diag($out);
	done_testing();
	exit;
}

# one program per core file, as the Makefile builds them
my @names = map { m!/test_(\w+)\.c$! } glob("$dir/test_*.c");

ok(@names, 'unit test programs found');

for my $name (@names) {
	run_tap($name, "$dir/build/test_$name");
}

# test_signature reads t/unit/vectors.json, a copy of the shared vectors
# (CI has no ../shared): the copy must not drift from its source

SKIP: {
	my $shared = abs_path(dirname(__FILE__) . '/../..')
		. '/shared/test-vectors.json';

	skip "no $shared (only on the development machine)", 1
		unless -f $shared;

	is(slurp("$dir/vectors.json"), slurp($shared),
		't/unit/vectors.json equals ../shared/test-vectors.json');
}

done_testing();

###############################################################################

sub slurp {
	my ($path) = @_;

	open(my $fh, '<', $path) or return "cannot read $path: $!";
	local $/;

	return scalar <$fh>;
}

sub run_tap {
	my ($name, $bin) = @_;
	my ($plan, $count, $failed) = (undef, 0, 0);

	my $pid = open(my $fh, '-|', $bin);

	if (!defined $pid) {
		fail("$name: run $bin: $!");
		return;
	}

	while (my $line = <$fh>) {
		chomp $line;

		if ($line =~ /^(not )?ok (\d+)(?: - (.*))?$/) {
			$count++;
			$failed = defined $1;

			ok(!$failed, "$name: " . ($3 // "test $2"));

			diag("$name: test numbered $2, expected $count")
				if $2 != $count;

		} elsif ($line =~ /^1\.\.(\d+)$/) {
			$plan = $1;

		} elsif ($line =~ /^#/) {
			# diagnostics of a failure are shown, the others kept quiet
			$failed ? diag($line) : note($line);

		} else {
			fail("$name: not TAP: $line");
		}
	}

	close $fh;

	is($?, 0, "$name: exit status");
	ok(defined $plan && $plan == $count,
		"$name: plan matches the " . $count . ' tests run');
}

###############################################################################
