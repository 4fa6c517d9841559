#!/usr/bin/perl

# (C) The ngx_http_otp_module authors

# No memory that held a provider request is freed unwiped: the body holds
# the code (and curl's copy of the request the Basic credentials).  nginx
# runs with a free() that reports every block it is given that still holds
# a marker (an LD_PRELOAD library built here): the number as the provider
# form writes it ("%2B1555..."), which only the provider request holds.
# The same scanner finds a client's form body, which nginx frees as it is:
# so the scanner is seen to work.

###############################################################################

use warnings;
use strict;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use OtpTest;
use MockProvider qw(form_hash);

###############################################################################

my $t = OtpTest->new;

my $cc = $ENV{CC} || 'cc';
my $shim = $t->dir . '/freescan.so';

$t->write_file('freescan.c', <<'EOF');
#define _GNU_SOURCE
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void __libc_free(void *p);

static char    marks[4][64];
static size_t  nmarks;
static int     out = -1;

__attribute__((constructor)) static void
init(void)
{
    char        *m, *f, *s, *e;
    size_t       n;

    m = getenv("FREESCAN_MARKS");
    f = getenv("FREESCAN_OUT");

    if (m == NULL || f == NULL) {
        return;
    }

    for (s = m; *s && nmarks < 4; s = *e ? e + 1 : e) {
        e = strchr(s, ',');
        if (e == NULL) {
            e = s + strlen(s);
        }
        n = (size_t) (e - s);
        if (n && n < sizeof(marks[0])) {
            memcpy(marks[nmarks++], s, n);
        }
    }

    out = open(f, O_WRONLY | O_APPEND | O_CREAT, 0644);
}

void
free(void *p)
{
    char    line[128];
    size_t  i, n;
    int     k;

    if (p != NULL && out >= 0) {
        n = malloc_usable_size(p);

        for (i = 0; i < nmarks; i++) {
            if (memmem(p, n, marks[i], strlen(marks[i])) != NULL) {
                k = snprintf(line, sizeof(line), "%d %s %zu\n",
                             (int) getpid(), marks[i], n);
                if (k > 0) {
                    (void) write(out, line, (size_t) k);
                }
            }
        }
    }

    __libc_free(p);
}
EOF

my $dir = $t->dir;
system("$cc -shared -fPIC -O1 -o $shim $dir/freescan.c 2>$dir/freescan.err") == 0
    or plan(skip_all => 'cannot build an LD_PRELOAD library: '
                        . $t->read_file('freescan.err'));

$t->plan(4);

my $mock = MockProvider->new(dir => $t->dir);

my $AC = 'AC42424242424242424242424242424242';

my $conf = <<'EOF';

%%GLOBALS%%
worker_processes 1;

events {
}

http {
    %%HTTP_GLOBALS%%

    %%STORE%%
    otp_secret_file %%SECRET%%;

    otp_provider tw twilio account_sid=@AC@ auth_token=wipetoken
                 from=+15005550006 base_url=@MOCK@;

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

# the secret: the provider's form; the control: a client's form body
my $secret = '%2B15550420001';
my $control = '%2B15550420002';

$ENV{FREESCAN_MARKS} = "$secret,$control";
$ENV{FREESCAN_OUT} = "$dir/freed";
$t->write_file('freed', '');

{
    local $ENV{LD_PRELOAD} = $shim;
    $t->write_config($conf)->run;
}

###############################################################################

# the number as JSON: the client's request does not hold the marker

my $r = $t->post_json('/otp/send', { phone => '+15550420001' });
is($r->{status}, 202, 'a send through the provider');

my ($q) = $mock->requests(qr/Messages/);
ok($q && index($q->{body}, "To=$secret") >= 0,
   'the provider request holds the marker');

# a form body with the other marker: nginx frees it as it is

$r = $t->post_form('/otp/send', { phone => '+15550420002' });

# every block is freed by the end, the exit's included

$t->stop;

my @freed = split /\n/, $t->read_file('freed');

ok(scalar(grep { / \Q$control\E / } @freed),
   'the scanner sees a client\'s form body freed unwiped (the control)');

is(join("\n", grep { / \Q$secret\E / } @freed), '',
   'no block that held the provider request is freed unwiped');

###############################################################################

$mock->stop;
$t->done;

###############################################################################
