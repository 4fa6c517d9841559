#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# otp_metrics: Prometheus text exposition 0.0.4 read by a strict parser
# (every line a HELP, a TYPE or a sample; valid names, escaped label
# values; HELP and TYPE before a family's samples, its samples together;
# histograms cumulative with le="+Inf" equal to _count; no series twice).
# On both stores, counters move by exactly the expected amounts after a
# scripted set of sends, verifies, status callbacks and a STOP; two
# workers count into one zone; the counters are kept across a reload and
# start at zero, said at notice, when the series change; with Redis
# stopped the store's errors are counted.  GET and HEAD only; no code and
# no number in a scrape.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Digest::SHA qw(hmac_sha1_base64);
use Time::HiRes qw(time sleep);
use IO::Socket::INET;
use OtpTest;
use MockProvider qw(form_hash);

###############################################################################

my $t = OtpTest->new;

my $mock = MockProvider->new(dir => $t->dir);

my $AC = 'ACa1b2c3d4e5f60718293a4b5c6d7e8f90';
my $TOKEN = 'tok1c0ffee5ecret0ddba11deadbeefab';
my $PUBLIC = 'https://otp.example';

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
                 from=+15005550006 base_url=@MOCK@ budget=1000;
    otp_public_url @PUBLIC@;

    @BUCKETS@

    server {
        listen 127.0.0.1:%%PORT%% reuseport;

        add_header X-Worker $pid always;

        otp_client_limit off;
        otp_resend_after 60s;
        otp_geo_deny sms +44;

        location = /otp/send {
            otp_send;
        }

        location = /otp/verify {
            otp_verify;
        }

        location = /hooks/twilio {
            otp_webhook tw;
        }

        location /otp/status/ {
            otp_status;
        }

        location = /metrics {
            otp_metrics;
        }
    }
}

EOF

my %subst = (AC => $AC, TOKEN => $TOKEN, PUBLIC => $PUBLIC,
             MOCK => $mock->url);
$conf =~ s/@(AC|TOKEN|PUBLIC|MOCK)@/$subst{$1}/g;

sub config {
    my ($buckets) = @_;
    (my $c = $conf) =~ s/\@BUCKETS\@/$buckets/;
    return $c;
}

my $BUCKETS = 'otp_metrics_buckets provider 5ms 50ms 500ms 5s;';

# the parser's own 6, two apps 3; per store 56, and 2 more with Redis
$t->plan(9 + 56 * $t->stores + ($t->stores > 1 ? 2 : 0));

###############################################################################

# The strict parser: dies with the line at fault, or answers
# { "name{l1="v1",l2="v2"}" (labels sorted) => value }.

my $NAME = qr/[a-zA-Z_:][a-zA-Z0-9_:]*/;
my $LABEL = qr/[a-zA-Z_][a-zA-Z0-9_]*/;
my $VALUE = qr/(?:[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?Inf|NaN)/;

sub key {
    my ($name, %l) = @_;
    return $name . '{' . join(',', map { qq{$_="$l{$_}"} } sort keys %l)
           . '}';
}

sub parse {
    my ($text) = @_;

    die "no final newline\n" unless $text =~ /\n\z/;

    my (%help, %type, %done, %series, %hist);
    my $current = '';

    for my $line (split /\n/, $text) {

        if ($line =~ /^#/) {
            if ($line =~ /^# HELP ($NAME) ((?:[^\\\n]|\\[\\n])*)$/) {
                die "HELP twice: $line\n" if $help{$1}++;
                die "HELP after samples: $line\n" if $done{$1};

            } elsif ($line =~
                     /^# TYPE ($NAME) (counter|gauge|histogram|untyped)$/)
            {
                die "TYPE twice: $line\n" if $type{$1};
                die "TYPE after samples: $line\n" if $done{$1};
                $type{$1} = $2;

            } else {
                die "a comment of no known form: $line\n";
            }

            next;
        }

        my ($name, $labels, $value) =
            $line =~ /^($NAME)(?:\{(.*)\})? ($VALUE)$/
            or die "not a sample: $line\n";

        my %l;
        my $rest = $labels // '';

        while (length $rest) {
            $rest =~ s/^($LABEL)="((?:[^"\\\n]|\\["\\n])*)"(,(?=.)|$)//
                or die "bad labels: $line\n";
            die "a label twice: $line\n" if exists $l{$1};
            $l{$1} = $2;
        }

        # its family: a histogram's name without _bucket, _sum, _count
        my $family = $name;

        if (!$type{$name} && $name =~ /^(.*)_(bucket|sum|count)$/
            && ($type{$1} // '') eq 'histogram')
        {
            $family = $1;
        }

        die "no TYPE before: $line\n" unless $type{$family};
        die "no HELP before: $line\n" unless $help{$family};
        die "family not together: $line\n"
            if $done{$family} && $current ne $family;
        die "le on a non-bucket: $line\n"
            if exists $l{le} && $name !~ /_bucket$/;

        $done{$family} = 1;
        $current = $family;

        my $k = key($name, %l);
        die "a series twice: $line\n" if exists $series{$k};
        $series{$k} = $value;

        if ($type{$family} eq 'histogram') {
            my $le = delete $l{le};
            my $h = $hist{key($family, %l)} //= { buckets => [] };

            if ($name =~ /_bucket$/) {
                die "a bucket without le: $line\n" unless defined $le;
                push @{$h->{buckets}}, [ $le, $value ];
            } elsif ($name =~ /_sum$/) {
                $h->{sum} = $value;
            } elsif ($name =~ /_count$/) {
                $h->{count} = $value;
            }
        }
    }

    for my $k (sort keys %hist) {
        my $h = $hist{$k};
        my @b = @{$h->{buckets}};

        die "$k: no +Inf bucket\n" unless @b && $b[-1][0] eq '+Inf';
        die "$k: no _sum or _count\n"
            unless defined $h->{sum} && defined $h->{count};
        die "$k: +Inf is not _count\n" unless $b[-1][1] == $h->{count};

        for my $i (1 .. $#b) {
            die "$k: le not increasing\n"
                unless $b[$i][0] eq '+Inf' || $b[$i][0] > $b[$i - 1][0];
            die "$k: buckets not cumulative\n"
                unless $b[$i][1] >= $b[$i - 1][1];
        }
    }

    return \%series;
}

sub scrape {
    my $r = $t->get('/metrics');
    die "scrape: $r->{status}\n" unless $r->{status} == 200;
    return ($r, parse($r->{body}));
}

# the change of each named series between two scrapes
sub delta {
    my ($a, $b, $k) = @_;
    return ($b->{$k} // 'absent') - ($a->{$k} // 0)
        if defined $b->{$k};
    return 'absent';
}

# the long-polls gauge once it is want (a coarse bound: 5 s)
sub gauge {
    my ($want) = @_;

    my $v;
    my $deadline = time + 5;

    while (1) {
        $v = (scrape())[1]{key('otp_longpolls_held')};
        last if $v == $want || time > $deadline;
        sleep 0.05;
    }

    return $v;
}

sub esc {
    my ($s) = @_;
    $s =~ s/([^A-Za-z0-9\-._~])/sprintf('%%%02X', ord $1)/ge;
    return $s;
}

sub twilio {
    my (%p) = @_;

    my $sig = hmac_sha1_base64("$PUBLIC/hooks/twilio"
                               . join('', map { $_ . $p{$_} } sort keys %p),
                               $TOKEN);
    $sig .= '=' while length($sig) % 4;

    return $t->post('/hooks/twilio', 'application/x-www-form-urlencoded',
                    join('&', map { esc($_) . '=' . esc($p{$_}) }
                              sort keys %p),
                    headers => { 'X-Twilio-Signature' => $sig });
}

# the parser refuses what a scraper would
my $H = "# HELP a_total A.\n# TYPE a_total counter\n";
my $G = "# HELP h A.\n# TYPE h histogram\n";
ok(eval { parse($H . "a_total{x=\"1\\\"\"} 1\n") },
   'the parser takes an escaped quote');
ok(!eval { parse($H . "a_total{x=\"1\"} 1\na_total{x=\"1\"} 2\n") },
   'the parser refuses a series twice');
ok(!eval { parse("a_total 1\n") }, 'and a sample without HELP and TYPE');
ok(!eval { parse($H . "a_total{x=\"a\\q\"} 1\n") },
   'and a bad escape');
ok(!eval { parse($G . "h_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n"
                 . "h_sum 1\nh_count 1\n") },
   'and buckets that are not cumulative');
ok(!eval { parse($G . "h_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\n"
                 . "h_sum 1\nh_count 3\n") },
   'and +Inf other than _count');

my $n = 0;

for my $store ($t->stores) {

    $t->write_config(config($BUCKETS), store => $store)->run;

    my $P = sprintf '+1555072%04d', ++$n;
    my $Q = sprintf '+1555072%04d', ++$n;
    $t->uses_phone($P, $Q);

    my ($r, $m0) = scrape();

    is($r->{headers}{'content-type'},
       'text/plain; version=0.0.4; charset=utf-8', "$store: content type");
    ok(keys %$m0 > 100, "$store: the scrape parses strictly ("
                        . scalar(keys %$m0) . ' series)');

    # the script

    my $before = scalar $mock->requests;
    $r = $t->post_form('/otp/send', { phone => $P });
    my %f = form_hash((($mock->requests)[$before] // {})->{body} // '');
    my ($code) = ($f{Body} // '') =~ /(\d{6})/;
    $t->{codes}{$code} = 1 if defined $code;
    my $sid = $r->{json} ? $r->{json}{message_id} // '' : '';

    is($r->{status}, 202, "$store: a send");
    is($t->post_form('/otp/send', { phone => $P })->{status}, 429,
       "$store: a send too early");
    is($t->post_form('/otp/verify', { phone => $P, code => '000000' })
       ->{status}, 401, "$store: a wrong code");
    is($t->post_form('/otp/verify', { phone => $P, code => $code })
       ->{status}, 200, "$store: the right code");
    is($t->post_form('/otp/verify', { phone => $P, code => $code })
       ->{status}, 410, "$store: the code again");

    sleep 0.3;      # a delivery time the histogram can see

    is(twilio(MessageSid => $sid, MessageStatus => 'delivered',
              AccountSid => $AC)->{status}, 200, "$store: delivered");
    is(twilio(MessageSid => $sid, MessageStatus => 'sent',
              AccountSid => $AC)->{status}, 200, "$store: a late sent");
    is(twilio(MessageSid => 'SMstop' . $n, AccountSid => $AC, From => $Q,
              To => '+15005550006', Body => 'STOP', NumMedia => '0',
              SmsStatus => 'received')->{status}, 200, "$store: a STOP");
    is($t->post_form('/otp/send', { phone => $Q })->{status}, 403,
       "$store: a send to the opted-out number");
    is($t->post_form('/otp/send', { phone => 'not a number' })->{status},
       400, "$store: a bad number");
    is($t->post_form('/otp/send', { phone => '+447700900123' })->{status},
       403, "$store: a number geo permissions refuse");
    is($t->post('/metrics', 'text/plain', 'x')->{status}, 405,
       "$store: POST /metrics is 405");

    my $m1;
    ($r, $m1) = scrape();

    my %want = (
        key('otp_send_requests_total', result => 'sent') => 1,
        key('otp_send_requests_total', result => 'rate_limited') => 1,
        key('otp_send_requests_total', result => 'opted_out') => 1,
        key('otp_send_requests_total', result => 'invalid_phone') => 1,
        key('otp_send_requests_total', result => 'destination_blocked') => 1,
        key('otp_send_requests_total', result => 'delivery_failed') => 0,
        key('otp_rate_limited_total', reason => 'cooldown') => 1,
        key('otp_rate_limited_total', reason => 'phone_limit') => 0,
        key('otp_geo_refusals_total') => 1,
        key('otp_verify_requests_total', result => 'invalid_code') => 1,
        key('otp_verify_requests_total', result => 'verified') => 1,
        key('otp_verify_requests_total', result => 'expired') => 1,
        key('otp_provider_sends_total', provider => 'tw', channel => 'sms',
            result => 'accepted') => 1,
        key('otp_provider_sends_total', provider => 'tw', channel => 'sms',
            result => 'rejected') => 0,
        key('otp_provider_request_duration_seconds_count',
            provider => 'tw') => 1,
        key('otp_provider_budget_checks_total', provider => 'tw',
            result => 'within') => 1,
        key('otp_delivery_statuses_total', provider => 'tw',
            channel => 'sms', status => 'delivered') => 1,
        key('otp_delivery_statuses_total', provider => 'tw',
            channel => 'sms', status => 'sent') => 0,
        key('otp_optout_changes_total', action => 'stop') => 1,
        key('otp_optout_changes_total', action => 'start') => 0,
        key('otp_store_operations_total', op => 'issue', result => 'ok')
            => 3,
        key('otp_store_operations_total', op => 'verify', result => 'ok')
            => 3,
        key('otp_store_operations_total', op => 'message_put',
            result => 'ok') => 1,
        key('otp_store_operations_total', op => 'status_set',
            result => 'ok') => 2,
        key('otp_store_operations_total', op => 'issue', result => 'error')
            => 0,
        key('otp_store_operation_duration_seconds_count', op => 'verify')
            => 3,
        key('otp_longpolls_held') => 0,
    );

    for my $k (sort keys %want) {
        is(delta($m0, $m1, $k), $want{$k}, "$store: $k moved by $want{$k}");
    }

    # the time to delivery: both stores' STATUS_SET answers tell when the
    # message was sent
    my $dk = key('otp_delivery_duration_seconds_count', provider => 'tw',
                 channel => 'sms');
    is(delta($m0, $m1, $dk), 1, "$store: time to delivery observed");

    unlike($r->{body}, qr/\Q$code\E/, "$store: no code in a scrape")
        if defined $code;
    unlike($r->{body}, qr/5550720|7700900123/,
           "$store: no number in a scrape");

    # a long-poll held shows in the gauge, and leaves it when answered

    my $R = sprintf '+1555072%04d', ++$n;
    $t->uses_phone($R);
    $before = scalar $mock->requests;
    $r = $t->post_form('/otp/send', { phone => $R });
    %f = form_hash((($mock->requests)[$before] // {})->{body} // '');
    $t->{codes}{$1} = 1 if ($f{Body} // '') =~ /(\d{6})/;
    my $sid2 = $r->{json} ? $r->{json}{message_id} // '' : '';

    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                     PeerPort => $t->port('PORT'))
        or die "connect: $!\n";
    print $sock "GET /otp/status/$sid2?wait=10 HTTP/1.0\r\n"
                . "Host: localhost\r\n\r\n";

    is(gauge(1), 1, "$store: a long-poll held is counted");
    twilio(MessageSid => $sid2, MessageStatus => 'delivered',
           AccountSid => $AC);
    my $answer = eval {
        local $SIG{ALRM} = sub { die "timeout\n" };
        alarm 10;
        local $/;
        my $a = <$sock>;
        alarm 0;
        $a;
    } // '';
    like($answer, qr{^HTTP/1\.[01] 200}, "$store: the long-poll answered");
    is(gauge(0), 0, "$store: and no longer counted");
    close $sock;

    # two workers, one zone: concurrent requests counted by both, and
    # whichever answers a scrape tells the same

    my %pid;
    my $k400 = key('otp_send_requests_total', result => 'invalid_phone');

    for (1 .. 3) {
        my @a = $t->concurrently(20, sub {
            my $x = $t->post_form('/otp/send', { phone => 'nope' });
            return { status => $x->{status},
                     body => $x->{headers}{'x-worker'} // '' };
        });
        $pid{$_} = 1 for map { $_->{json} // () } @a;
        last if keys %pid > 1;
    }

    my @w = $t->worker_pids;
    is(scalar @w, 2, "$store: two workers");

    ok(keys %pid > 1, "$store: both workers answered some");

    my @scrapes = map { (scrape())[1] } 1 .. 6;
    my %seen = map { $_->{$k400} => 1 } @scrapes;
    is(scalar keys %seen, 1, "$store: every scrape agrees");

    my $sent400 = $scrapes[0]{$k400} - $m1->{$k400};
    ok($sent400 >= 20 && $sent400 % 20 == 0,
       "$store: every concurrent request counted ($sent400)");

    # kept across a reload

    my $m2 = $scrapes[0];
    $t->reload;
    my (undef, $m3) = scrape();

    is(delta($m2, $m3, $k400), 0, "$store: kept across nginx -s reload");
    is(delta($m2, $m3, key('otp_verify_requests_total',
                           result => 'verified')), 0,
       "$store: all of them");

    # another layout: the counters start at zero, said at notice

    $t->write_config(config('otp_metrics_buckets provider 1s 2s;'),
                     store => $store);
    $t->reload;
    my (undef, $m4) = scrape();

    is($m4->{$k400}, 0, "$store: new series start at zero");
    like($t->read_file('error.log'),
         qr/\[notice\].*otp metrics: the series changed/,
         "$store: and the error log says so");

    # many layouts, one after another, with a long-poll held by an old
    # worker at the last one: the old worker, answering it as it exits,
    # counts into its own zone, never into the new configuration's (one
    # zone holding every layout ran out of room after 8 and gave the old
    # workers' slots to the new one: the gauge read -1)

    for my $i (1 .. 8) {
        if ($i == 8) {
            my $S = sprintf '+1555072%04d', ++$n;
            $t->uses_phone($S);
            $before = scalar $mock->requests;
            $r = $t->post_form('/otp/send', { phone => $S });
            %f = form_hash((($mock->requests)[$before] // {})->{body} // '');
            $t->{codes}{$1} = 1 if ($f{Body} // '') =~ /(\d{6})/;
            my $sid3 = $r->{json} ? $r->{json}{message_id} // '' : '';

            $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                          PeerPort => $t->port('PORT'))
                or die "connect: $!\n";
            print $sock "GET /otp/status/$sid3?wait=10 HTTP/1.0\r\n"
                        . "Host: localhost\r\n\r\n";
            gauge(1);
        }

        $t->write_config(config("otp_metrics_buckets provider ${i}0ms 9s;"),
                         store => $store);
        $t->reload;
    }

    close $sock;
    is(gauge(0), 0, "$store: 8 layouts later, an old worker's long-poll "
                    . "let go counts in its own zone");

    # the store unavailable: its errors counted

    if ($store eq 'redis') {
        $t->stop_redis;

        is($t->post_form('/otp/send', { phone => $P })->{status}, 503,
           "$store: a send with Redis stopped");

        my (undef, $m5) = scrape();
        is(delta($m4, $m5, key('otp_store_operations_total', op => 'issue',
                               result => 'error')), 1,
           "$store: the store error counted");

        $t->start_redis;
    }

    $t->stop;
}

# two apps, each with a provider "dev": an app label keeps them apart

$t->write_file('a.secret', ('A' x 44) . "\n", 0600);
$t->write_file('b.secret', ('B' x 44) . "\n", 0600);

$t->write_config(<<'EOF')->run;

%%GLOBALS%%

events {
}

http {
    %%HTTP_GLOBALS%%

    otp_store shm:otp_test:1m;
    otp_client_limit off;

    server {
        listen 127.0.0.1:%%PORT%%;
        otp_secret_file %%PREFIX%%/a.secret;
        otp_provider dev log;
        location = /otp/send { otp_send; }
        location = /metrics { otp_metrics; }
    }

    server {
        listen 127.0.0.1:%%PORT1%%;
        otp_secret_file %%PREFIX%%/b.secret;
        otp_provider dev log;
        location = /otp/send { otp_send; }
    }
}

EOF

my $two = $t->get('/metrics')->{body};
my @apps = sort keys %{{ map { $_ => 1 }
    $two =~ /^otp_provider_sends_total\{app="([0-9a-f]{16})",provider="dev"/mg }};
ok(eval { parse($two) } && @apps == 2,
   'two apps: two sets of series for "dev", no duplicate') or diag($@);

$t->uses_phone('+15550729001');
is(($t->send_code('/otp/send', { phone => '+15550729001' },
                  port => $t->port('PORT1')))[0]{status}, 202,
   'two apps: a send through the second');
my $after = parse($t->get('/metrics')->{body});
is(join(',', sort map { $after->{key('otp_provider_sends_total', app => $_,
                                     provider => 'dev', channel => 'sms',
                                     result => 'accepted')} // 'none' }
             @apps),
   '0,1', 'a send through one app counts for that app alone');

$t->stop;

$t->done;

###############################################################################
