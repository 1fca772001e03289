/*
 * pickle2json: print a Python pickle as JSON.
 *
 *     pickle2json FILE
 *
 * Prints the value as one line of JSON on stdout (the JSON form of bytes, big ints,
 * tuples, sets, globals and calls is described in docs/c.md) and exits 0. On bad input
 * it prints one line naming the error and its byte offset on stderr and exits 1; 2 for
 * a usage error, 3 when the file cannot be read. Nothing in the pickle is executed.
 *
 * Build: gcc -Wall -Werror pickle2json.c -Itarget/include -Ltarget/release -lbrinery
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "brinery.h"

/* Reads all of `path`; NULL (with errno set) on failure. The caller frees. */
static unsigned char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    unsigned char *buf = malloc(cap);
    while (buf != NULL) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) {
            break;
        }
        unsigned char *bigger = realloc(buf, cap * 2);
        if (bigger == NULL) {
            free(buf);
            buf = NULL;
            errno = ENOMEM;
            break;
        }
        buf = bigger;
        cap *= 2;
    }
    if (buf != NULL && ferror(f)) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = n;
    return buf;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: pickle2json FILE\n");
        return 2;
    }
    size_t len = 0;
    unsigned char *data = read_file(argv[1], &len);
    if (data == NULL) {
        fprintf(stderr, "pickle2json: %s: %s\n", argv[1], strerror(errno));
        return 3;
    }
    /* Out-of-band buffers (protocol 5) are not in the file: show where they go. */
    brinery_decode_options opts = brinery_decode_options_default();
    opts.buffers = SIZE_MAX;
    brinery_error err = {0};
    char *json = brinery_pickle_to_json(data, len, &opts, &err);
    free(data);
    if (json == NULL) {
        if (err.has_offset) {
            fprintf(stderr, "pickle2json: %s: %s at byte %zu: %s\n", argv[1],
                    brinery_status_name(err.code), err.offset, err.message);
        } else {
            fprintf(stderr, "pickle2json: %s: %s: %s\n", argv[1], brinery_status_name(err.code),
                    err.message);
        }
        return 1;
    }
    puts(json);
    brinery_string_free(json);
    return 0;
}
