/*
 * Decodes one pickle file N times with brinery_loads (default options) and frees the
 * tree each time: the C decoder's workload for callgrind instruction counts
 * (docs/benchmarks.md gives the command). Not a timing benchmark.
 *
 *     cc -O2 -I target/include bindings-c/benches/decode_file.c \
 *        -L target/release -lbrinery -o /tmp/decode_file
 *     LD_LIBRARY_PATH=target/release /tmp/decode_file FILE [N]
 */
#include <stdio.h>
#include <stdlib.h>

#include "brinery.h"

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: decode_file FILE [N]\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (f == NULL) {
        perror(argv[1]);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *data = malloc((size_t)len);
    if (data == NULL || fread(data, 1, (size_t)len, f) != (size_t)len) {
        fprintf(stderr, "%s: cannot read\n", argv[1]);
        return 1;
    }
    fclose(f);
    int n = argc > 2 ? atoi(argv[2]) : 2;
    for (int i = 0; i < n; i++) {
        brinery_error err = {0};
        brinery_value *v = brinery_loads(data, (size_t)len, NULL, &err);
        if (v == NULL) {
            fprintf(stderr, "%s: %s\n", brinery_status_name(err.code), err.message);
            return 1;
        }
        brinery_value_free(v);
    }
    free(data);
    return 0;
}
