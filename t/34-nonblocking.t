#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# Nothing a provider does blocks the worker: with one worker, 20 sends wait
# on a provider that answers after 3 s (t/lib/MockProvider.pm), all 20
# requests reach the provider at once, and meanwhile verify requests and a
# plain "return 200" location each answer in well under 200 ms (the one
# timing assertion of these tests: milliseconds against seconds); then all
# 20 sends get their 202, each with the code of its own message.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use IO::Select;
use POSIX qw(_exit);
use Time::HiRes qw(time sleep);
use OtpTest;
use MockProvider qw(form_hash leaks);

###############################################################################

my $t = OtpTest->new;

$t->plan(9);

my $mock = MockProvider->new(dir => $t->dir);

my $AC = 'AC34343434343434343434343434343434';

my $conf = <<'EOF';

%%GLOBALS%%
worker_processes 1;

events {
    worker_connections 1024;
}

http {
    %%HTTP_GLOBALS%%

    %%STORE%%
    otp_secret_file %%SECRET%%;

    otp_provider tw twilio account_sid=@AC@ auth_token=nonblockingtoken
                 from=+15005550006 base_url=@MOCK@;

    server {
        listen 127.0.0.1:%%PORT%%;

        otp_client_limit off;

        location = /otp/send {
            otp_send;
        }

        location = /otp/verify {
            otp_verify;
        }

        location = /plain {
            return 200 "ok\n";
        }
    }
}

EOF

my %subst = (MOCK => $mock->url, AC => $AC);
$conf =~ s/@(\w+)@/$subst{$1}/g;

$t->write_config($conf)->run;

###############################################################################

my $N = 20;
my @phones = map { sprintf '+1555034%04d', $_ } 1 .. $N;
$t->uses_phone(@phones);

$mock->on(qr{/Messages\.json$} => { delay => 3 });

# 20 clients, each in a child of its own; answers come back on a pipe as
# "index status message_id"

pipe(my $res_r, my $res_w) or die "pipe: $!";

my @kids;

for my $i (0 .. $N - 1) {
    my $pid = fork() // die "fork: $!";

    if ($pid == 0) {
        close $res_r;
        my $r = $t->post_form('/otp/send', { phone => $phones[$i] },
                              timeout => 30);
        my $id = $r->{json} ? $r->{json}{message_id} // '-' : '-';
        syswrite $res_w, "$i $r->{status} $id\n";
        _exit(0);
    }

    push @kids, $pid;
}

close $res_w;

my $sel = IO::Select->new($res_r);

# all 20 reach the provider, none answered yet

my @reqs = $mock->wait_requests($N, qr/Messages/, 2.5);
my $pending = !$sel->can_read(0);

is(scalar @reqs, $N, "all $N sends reached the provider at once");

# meanwhile the worker serves everything else at once

my (@verify, @plain);

for my $i (1 .. 5) {
    my $start = time;
    my $r = $t->post_form('/otp/verify',
                          { phone => sprintf('+1555035%04d', $i),
                            code => '123456' });
    push @verify, [ $r->{status}, time - $start ];

    $start = time;
    $r = $t->get('/plain');
    push @plain, [ "$r->{status} $r->{body}", time - $start ];
}

# (checked before the sends finish, so the times above were taken while
# all 20 were waiting)
$pending &&= !$sel->can_read(0);

ok($pending, 'the sends were still waiting meanwhile');

my ($slowest) = sort { $b <=> $a } map { $_->[1] } @verify, @plain;

ok((!grep { $_->[0] != 410 } @verify), 'verify answered (410) while sends wait')
    or diag(join ' ', map { $_->[0] } @verify);
ok((!grep { $_->[0] ne "200 ok\n" } @plain), 'return 200 answered while sends wait');
ok($slowest < 0.2, sprintf('each answered in under 200 ms (slowest %.0f ms)',
                           $slowest * 1000));

# then all 20 sends are accepted

my %res;
my $deadline = time + 20;

while (keys %res < $N && time < $deadline) {
    last unless $sel->can_read($deadline - time);
    my $line = <$res_r>;
    last unless defined $line;
    my ($i, $status, $id) = split ' ', $line;
    $res{$i} = [ $status, $id ];
}

waitpid($_, 0) for @kids;

is(join(' ', map { $res{$_} ? $res{$_}[0] : 'none' } 0 .. $N - 1),
   join(' ', ('202') x $N), "all $N sends 202");

# each with its own message and code

my (%code_of, %sid_of);

for my $q ($mock->requests(qr/Messages/)) {
    my %f = form_hash($q->{body});
    my ($code) = ($f{Body} // '') =~ /\b(\d{6})\b/;
    my ($sid) = ($q->{answer}{body} // '') =~ /"sid":"(SM[0-9a-f]{32})"/;
    $code_of{$f{To} // ''} = $code;
    $sid_of{$f{To} // ''} = $sid;
}

is(scalar(grep { $res{$_} && $sid_of{$phones[$_]}
                 && $res{$_}[1] eq $sid_of{$phones[$_]} } 0 .. $N - 1),
   $N, 'each 202 names the sid of its own message');

my $ok = 0;

for my $phone (@phones) {
    my $r = $t->post_form('/otp/verify',
                          { phone => $phone, code => $code_of{$phone} // '' });
    $ok++ if $r->{status} == 200;
}

is($ok, $N, "all $N codes verify");

$t->stop;

my @codes = grep { defined } values %code_of;
my @leak = leaks($t, @codes);
ok(@codes == $N && !@leak, 'no code in error.log or access.log')
    or diag(join "\n", @leak[0 .. ($#leak > 9 ? 9 : $#leak)]);

$mock->stop;
$t->done;

###############################################################################
