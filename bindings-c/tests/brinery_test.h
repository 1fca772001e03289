/*
 * Shared helpers of the C tests: counting checks (each program ends by printing
 * "N passed, N failed"), reading files, a growable string, the shared vectors'
 * manifest (read with libbrinery's own JSON bridge) and ctext, the canonical text of a
 * value that core/tests/vectors/README.md defines, printed from a brinery_value (in
 * brinery_ctext.h, included here).
 */
#ifndef BRINERY_TEST_H
#define BRINERY_TEST_H

#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <unistd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "brinery.h"

static int test_passed, test_failed;

#define CHECK(cond, ...)                                  \
    do {                                                  \
        if (cond) {                                       \
            test_passed++;                                \
        } else {                                          \
            test_failed++;                                \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);   \
            printf(__VA_ARGS__);                          \
            printf("\n");                                 \
        }                                                 \
    } while (0)

static inline int test_summary(void) {
    printf("%d passed, %d failed\n", test_passed, test_failed);
    return test_failed == 0 ? 0 : 1;
}

/* ---- growable string ---------------------------------------------------------- */

typedef struct {
    char *p;
    size_t len, cap;
} sbuf;

static inline void sb_put(sbuf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (b->len + n + 1 > cap) {
            cap *= 2;
        }
        char *p = realloc(b->p, cap);
        if (p == NULL) {
            abort();
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static inline void sb_puts(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

__attribute__((format(printf, 2, 3))) static inline void sb_printf(sbuf *b, const char *fmt,
                                                                   ...) {
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        abort();
    }
    sb_put(b, tmp, (size_t)n);
}

static inline void sb_free(sbuf *b) {
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* ---- files -------------------------------------------------------------------- */

/* All of `path` (NUL-terminated for convenience), or NULL. The caller frees. */
static inline unsigned char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    sbuf b = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        sb_put(&b, chunk, n);
    }
    fclose(f);
    if (b.p == NULL) {
        sb_put(&b, "", 0);
    }
    *len = b.len;
    return (unsigned char *)b.p;
}

/* `$BRINERY_VECTORS/file` in a static buffer. */
static inline const char *vector_path(const char *file) {
    static char path[4096];
    const char *dir = getenv("BRINERY_VECTORS");
    snprintf(path, sizeof path, "%s/%s", dir ? dir : "core/tests/vectors", file);
    return path;
}

/* ---- reading JSON files through the bridge ------------------------------------- */

/* A JSON file as a value tree (JSON -> pickle -> tree), or NULL. */
static inline brinery_value *load_json_file(const char *path) {
    size_t len;
    unsigned char *text = read_all(path, &len);
    if (text == NULL) {
        return NULL;
    }
    brinery_error err = {0};
    brinery_bytes p = brinery_json_to_pickle((const char *)text, len, 4, &err);
    free(text);
    if (p.data == NULL) {
        printf("cannot read %s: %s: %s\n", path, brinery_status_name(err.code), err.message);
        return NULL;
    }
    brinery_value *v = brinery_loads(p.data, p.len, NULL, &err);
    brinery_bytes_free(p);
    return v;
}

static inline int str_is(const brinery_value *v, size_t node, const char *s) {
    const char *p;
    size_t n;
    return brinery_value_str(v, node, &p, &n) == BRINERY_OK && n == strlen(s) &&
           memcmp(p, s, n) == 0;
}

/* A NUL-terminated copy of a str node ("" if not a str). The caller frees. */
static inline char *str_dup(const brinery_value *v, size_t node) {
    const char *p = "";
    size_t n = 0;
    brinery_value_str(v, node, &p, &n);
    char *s = malloc(n + 1);
    memcpy(s, p, n);
    s[n] = 0;
    return s;
}

/* The value of `key` in a dict node, or BRINERY_NO_NODE. */
static inline size_t dict_get(const brinery_value *v, size_t dict, const char *key) {
    size_t n = 0;
    brinery_value_entries_len(v, dict, &n);
    for (size_t i = 0; i < n; i++) {
        size_t k, x;
        if (brinery_value_entry(v, dict, i, &k, &x) == BRINERY_OK && str_is(v, k, key)) {
            return x;
        }
    }
    return BRINERY_NO_NODE;
}

static inline size_t items_len(const brinery_value *v, size_t node) {
    size_t n = 0;
    brinery_value_items_len(v, node, &n);
    return n;
}

static inline size_t item(const brinery_value *v, size_t node, size_t i) {
    size_t out = BRINERY_NO_NODE;
    brinery_value_item(v, node, i, &out);
    return out;
}

static inline int64_t int_of(const brinery_value *v, size_t node) {
    int64_t i = -1;
    brinery_value_int(v, node, &i);
    return i;
}

/* ---- ctext (the canonical text of a value) ---------------------------------------- */

#include "brinery_ctext.h"

/* ---- CPython in a subprocess ---------------------------------------------------- */

/*
 * Pickles to check with CPython: each is written to a temporary folder with a Python
 * expression for the value it must load as; py_check_run() then runs one python3 that
 * loads every file with stock pickle.loads and compares (types included, recursively).
 * An expression starting with "lambda" is a predicate called with the loaded value
 * instead (for cycles and identity).
 */
typedef struct {
    char dir[64];
    sbuf list;
    int count;
} py_checks;

static inline void py_check_begin(py_checks *c) {
    memset(c, 0, sizeof *c);
    strcpy(c->dir, "/tmp/brinery-c-test-XXXXXX");
    if (mkdtemp(c->dir) == NULL) {
        abort();
    }
}

static inline void py_check_add(py_checks *c, const char *name, const uint8_t *data, size_t len,
                                const char *expr) {
    char path[256];
    snprintf(path, sizeof path, "%s/%d.pickle", c->dir, c->count++);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(data, 1, len, f) != len) {
        abort();
    }
    fclose(f);
    sb_printf(&c->list, "%s\t", path);
    sb_puts(&c->list, name);
    sb_puts(&c->list, "\t");
    sb_puts(&c->list, expr);
    sb_puts(&c->list, "\n");
}

static const char PY_CHECK_SCRIPT[] =
    "import math, pickle, sys, collections\n"
    "sys.setrecursionlimit(20000)\n"
    "def same(a, b):\n"
    "    if type(a) is not type(b): return False\n"
    "    if isinstance(a, (list, tuple)):\n"
    "        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))\n"
    "    if isinstance(a, dict):\n"
    "        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)\n"
    "    if isinstance(a, float) and math.isnan(a): return math.isnan(b)\n"
    "    if isinstance(a, float): return a == b and math.copysign(1, a) == math.copysign(1, b)\n"
    "    return a == b\n"
    "for line in open(sys.argv[1], encoding='utf-8'):\n"
    "    path, name, expr = line.rstrip('\\n').split('\\t')\n"
    "    try:\n"
    "        got = pickle.loads(open(path, 'rb').read())\n"
    "    except Exception as e:\n"
    "        print('FAIL', name, 'pickle.loads raised', repr(e)[:300]); continue\n"
    "    want = eval(expr)\n"
    "    good = want(got) if callable(want) and expr.startswith('lambda') else same(got, want)\n"
    "    print('ok', name) if good else print('FAIL', name, ascii(got)[:300])\n";

/* Runs CPython over everything added; one CHECK per pickle. Removes the files. */
static inline void py_check_run(py_checks *c) {
    char list[128], script[128], cmd[512];
    snprintf(list, sizeof list, "%s/list.txt", c->dir);
    snprintf(script, sizeof script, "%s/check.py", c->dir);
    FILE *f = fopen(list, "w");
    fputs(c->list.p ? c->list.p : "", f);
    fclose(f);
    f = fopen(script, "w");
    fputs(PY_CHECK_SCRIPT, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "python3 %s %s", script, list);
    FILE *py = popen(cmd, "r");
    CHECK(py != NULL, "cannot run python3");
    int ok = 0;
    if (py != NULL) {
        char line[1024];
        while (fgets(line, sizeof line, py) != NULL) {
            if (strncmp(line, "ok ", 3) == 0) {
                ok++;
            } else {
                CHECK(0, "python3: %s", line);
            }
        }
        CHECK(pclose(py) == 0, "python3 failed");
    }
    CHECK(ok == c->count, "CPython accepted %d of %d pickles", ok, c->count);
    test_passed += ok > 0 ? ok - 1 : 0;
    for (int i = 0; i < c->count; i++) {
        char path[256];
        snprintf(path, sizeof path, "%s/%d.pickle", c->dir, i);
        remove(path);
    }
    remove(list);
    remove(script);
    rmdir(c->dir);
    sb_free(&c->list);
}

#endif
