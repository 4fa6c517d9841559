
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * A stand-in for libFuzzer where there is none (gcc, no clang): feeds a
 * harness's LLVMFuzzerTestOneInput() each file named on the command line
 * (a directory stands for the files in it), then inputs made from a fixed
 * seed: mutations of those files and random bytes.  Each input sits in a
 * buffer of its exact size, as libFuzzer does, so ASan sees over-reads.
 *
 *   replay [-n count] file|dir ...
 */


#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"


#define REPLAY_DEFAULT_COUNT   4000
#define REPLAY_MAX_LEN         4096     /* as -max_len in the Makefile */
#define REPLAY_MAX_FILES       1024
#define REPLAY_SEED            0x9e3779b97f4a7c15ULL


typedef struct {
    uint8_t  *data;
    size_t    len;
} replay_input_t;


static replay_input_t  inputs[REPLAY_MAX_FILES];
static size_t          ninputs;
static uint64_t        state = REPLAY_SEED;


/* xorshift64*: a fixed sequence on every machine */

static uint64_t
next(void)
{
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;

    return state * 0x2545f4914f6cdd1dULL;
}


static void
run(const uint8_t *data, size_t len)
{
    uint8_t  *copy;

    copy = malloc(len ? len : 1);
    fuzz_check(copy != NULL);

    if (len) {
        memcpy(copy, data, len);
    }

    LLVMFuzzerTestOneInput(copy, len);

    free(copy);
}


static int
load_file(const char *path)
{
    FILE     *f;
    size_t    n;
    uint8_t  *buf;

    f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }

    buf = malloc(REPLAY_MAX_LEN);
    fuzz_check(buf != NULL);

    n = fread(buf, 1, REPLAY_MAX_LEN, f);
    fclose(f);

    run(buf, n);

    if (ninputs < REPLAY_MAX_FILES) {
        inputs[ninputs].data = buf;
        inputs[ninputs].len = n;
        ninputs++;

    } else {
        free(buf);
    }

    return 0;
}


static int
load(const char *path)
{
    char            name[4096];
    DIR            *dir;
    struct stat     st;
    struct dirent  *de;

    if (stat(path, &st) == -1) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }

    if (!S_ISDIR(st.st_mode)) {
        return load_file(path);
    }

    dir = opendir(path);
    if (dir == NULL) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }

    while ((de = readdir(dir)) != NULL) {
        if (de->d_name[0] == '.') {
            continue;
        }

        snprintf(name, sizeof(name), "%s/%s", path, de->d_name);

        if (stat(name, &st) == 0 && S_ISREG(st.st_mode)
            && load_file(name) != 0)
        {
            closedir(dir);
            return -1;
        }
    }

    closedir(dir);

    return 0;
}


/* bytes the formats care about, so random inputs get past the first check */

static uint8_t
random_byte(void)
{
    static const char  special[] =
        "{}[]\":,\\.=&%+-_ ()0123456789abcdefABCDEFuphonecode"
        "eyJhbGciOiJIUzI1NiJ9\x00\xff\xc3\xa9";

    switch (next() % 4) {

    case 0:
        return (uint8_t) next();

    default:
        return (uint8_t) special[next() % (sizeof(special) - 1)];
    }
}


static size_t
mutate(uint8_t *buf, size_t len, size_t cap)
{
    size_t  i, pos, edits;

    edits = 1 + next() % 8;

    for (i = 0; i < edits; i++) {
        pos = len ? next() % len : 0;

        switch (next() % 5) {

        case 0:                                     /* overwrite */
            if (len) {
                buf[pos] = random_byte();
            }
            break;

        case 1:                                     /* insert */
            if (len < cap) {
                memmove(buf + pos + 1, buf + pos, len - pos);
                buf[pos] = random_byte();
                len++;
            }
            break;

        case 2:                                     /* delete */
            if (len) {
                memmove(buf + pos, buf + pos + 1, len - pos - 1);
                len--;
            }
            break;

        case 3:                                     /* flip a bit */
            if (len) {
                buf[pos] ^= (uint8_t) (1 << next() % 8);
            }
            break;

        default:                                    /* truncate */
            len = pos;
            break;
        }
    }

    return len;
}


int
main(int argc, char **argv)
{
    int       i;
    size_t    n, k, len, count;
    uint8_t  *buf;

    count = REPLAY_DEFAULT_COUNT;
    i = 1;

    if (argc > 2 && strcmp(argv[1], "-n") == 0) {
        count = (size_t) strtoul(argv[2], NULL, 10);
        i = 3;
    }

    for ( /* void */ ; i < argc; i++) {
        if (load(argv[i]) != 0) {
            return 1;
        }
    }

    buf = malloc(REPLAY_MAX_LEN);
    fuzz_check(buf != NULL);

    for (n = 0; n < count; n++) {

        if (ninputs && n % 4 != 3) {
            k = next() % ninputs;
            len = inputs[k].len;
            memcpy(buf, inputs[k].data, len);
            len = mutate(buf, len, REPLAY_MAX_LEN);

        } else {
            len = next() % 256;

            for (k = 0; k < len; k++) {
                buf[k] = random_byte();
            }
        }

        run(buf, len);
    }

    printf("replay: %zu files, %zu generated inputs: no invariant failed\n",
           ninputs, count);

    for (k = 0; k < ninputs; k++) {
        free(inputs[k].data);
    }

    free(buf);

    return 0;
}
