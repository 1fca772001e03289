/*
 * The example tool's contract, run as a real process: `pickle2json FILE` prints the
 * JSON (as brinery_pickle_to_json gives it) on stdout and exits 0; on bad input it
 * prints one line naming the error and byte offset on stderr and exits 1 to 127.
 */
#include "brinery_test.h"

#include <sys/wait.h>

typedef struct {
    int status;
    sbuf out, err;
} run_result;

static void slurp(sbuf *b, const char *path) {
    size_t n;
    unsigned char *t = read_all(path, &n);
    sb_put(b, t ? (const char *)t : "", t ? n : 0);
    free(t);
}

static run_result run(const char *args) {
    run_result r = {0};
    const char *tool = getenv("BRINERY_PICKLE2JSON");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s %s >/tmp/p2j-%d.out 2>/tmp/p2j-%d.err", tool ? tool : "pickle2json",
             args, (int)getpid(), (int)getpid());
    int st = system(cmd);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 1000;
    char path[64];
    snprintf(path, sizeof path, "/tmp/p2j-%d.out", (int)getpid());
    slurp(&r.out, path);
    remove(path);
    snprintf(path, sizeof path, "/tmp/p2j-%d.err", (int)getpid());
    slurp(&r.err, path);
    remove(path);
    return r;
}

static void free_result(run_result *r) {
    sb_free(&r->out);
    sb_free(&r->err);
}

static size_t count_lines(const char *s) {
    size_t n = 0;
    for (; *s; s++) {
        n += *s == '\n';
    }
    return n;
}

static void good_files(void) {
    static const char *files[] = {"nested.p0.pickle", "dict_mixed_keys.p4.pickle",
                                  "cycle_tuple_root.p2.pickle", "datetime.p5.pickle",
                                  "str_astral.p1.pickle", "int_2p2039.p3.pickle",
                                  "oob_buffers.p5.pickle", "frames_structure.p5.pickle"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char arg[4096];
        snprintf(arg, sizeof arg, "%s", vector_path(files[i]));
        run_result r = run(arg);
        size_t len;
        unsigned char *data = read_all(arg, &len);
        brinery_decode_options opts = brinery_decode_options_default();
        opts.buffers = SIZE_MAX;
        brinery_error err = {0};
        char *want = brinery_pickle_to_json(data, len, &opts, &err);
        CHECK(r.status == 0, "%s: exit %d: %s", files[i], r.status, r.err.p ? r.err.p : "");
        CHECK(want != NULL && r.out.len == strlen(want) + 1 &&
                  memcmp(r.out.p, want, r.out.len - 1) == 0 && r.out.p[r.out.len - 1] == '\n',
              "%s: stdout differs from brinery_pickle_to_json", files[i]);
        CHECK(r.err.len == 0, "%s: stderr: %s", files[i], r.err.p);
        brinery_string_free(want);
        free(data);
        free_result(&r);
    }
}

static void bad_files(void) {
    static const struct {
        const char *name;
        const char *bytes;
        size_t len;
        const char *status;
    } cases[] = {
        {"truncated", "\x80\x02]q\x00(K\x01K", 9, "BRINERY_DECODE_TRUNCATED at byte 8"},
        {"huge", "\x80\x04\x8e\x00\x00\x00\x00\x01\x00\x00\x00" "ab.", 14, "at byte"},
        {"unknown", "\x80\x02\xff.", 4, "BRINERY_DECODE_UNKNOWN_OPCODE at byte 2"},
        {"empty", "", 0, "at byte 0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[64];
        snprintf(path, sizeof path, "/tmp/p2j-%d-%s.pickle", (int)getpid(), cases[i].name);
        FILE *f = fopen(path, "wb");
        fwrite(cases[i].bytes, 1, cases[i].len, f);
        fclose(f);
        run_result r = run(path);
        CHECK(r.status >= 1 && r.status <= 127, "%s: exit %d", cases[i].name, r.status);
        CHECK(r.out.len == 0, "%s: stdout not empty", cases[i].name);
        CHECK(r.err.p != NULL && count_lines(r.err.p) == 1 &&
                  strstr(r.err.p, cases[i].status) != NULL,
              "%s: stderr %s", cases[i].name, r.err.p ? r.err.p : "(empty)");
        free_result(&r);
        remove(path);
    }
    run_result r = run("/nonexistent/file.pickle");
    CHECK(r.status >= 1 && r.status <= 127 && count_lines(r.err.p ? r.err.p : "") == 1,
          "missing file: exit %d", r.status);
    free_result(&r);
    r = run("");
    CHECK(r.status >= 1 && r.status <= 127 && count_lines(r.err.p ? r.err.p : "") == 1,
          "no argument: exit %d", r.status);
    free_result(&r);
}

int main(void) {
    good_files();
    bad_files();
    return test_summary();
}
