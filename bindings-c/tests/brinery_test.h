/*
 * Shared helpers of the C tests: counting checks (each program ends by printing
 * "N passed, N failed"), reading files, a growable string, the shared vectors'
 * manifest (read with libbrinery's own JSON bridge) and ctext, the canonical text of a
 * value that core/tests/vectors/README.md defines, printed from a brinery_value.
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

/* ---- ctext ---------------------------------------------------------------------- */

/* Python's repr(float). */
static inline void float_repr(sbuf *out, double x) {
    if (isnan(x)) {
        sb_puts(out, "nan");
        return;
    }
    if (isinf(x)) {
        sb_puts(out, x < 0 ? "-inf" : "inf");
        return;
    }
    if (x == 0) {
        sb_puts(out, signbit(x) ? "-0.0" : "0.0");
        return;
    }
    char buf[64];
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, sizeof buf, "%.*e", p - 1, x);
        if (strtod(buf, NULL) == x) {
            break;
        }
    }
    /* buf is [-]d[.ddd]e(+|-)dd */
    const char *s = buf;
    if (*s == '-') {
        sb_puts(out, "-");
        s++;
    }
    char digits[32];
    size_t nd = 0;
    for (; *s != 'e'; s++) {
        if (*s != '.') {
            digits[nd++] = *s;
        }
    }
    while (nd > 1 && digits[nd - 1] == '0') {
        nd--;
    }
    int e = atoi(s + 1);
    if (e >= -4 && e < 16) {
        if (e >= 0) {
            for (int i = 0; i <= e; i++) {
                sb_put(out, (size_t)i < nd ? &digits[i] : "0", 1);
            }
            sb_puts(out, ".");
            if ((size_t)e + 1 < nd) {
                sb_put(out, digits + e + 1, nd - (size_t)e - 1);
            } else {
                sb_puts(out, "0");
            }
        } else {
            sb_puts(out, "0.");
            for (int i = 0; i < -e - 1; i++) {
                sb_puts(out, "0");
            }
            sb_put(out, digits, nd);
        }
    } else {
        sb_put(out, digits, 1);
        if (nd > 1) {
            sb_puts(out, ".");
            sb_put(out, digits + 1, nd - 1);
        }
        sb_printf(out, "e%c%02d", e < 0 ? '-' : '+', abs(e));
    }
}

/* Decimal text of little-endian two's complement bytes. */
static inline void bigint_text(sbuf *out, const uint8_t *le, size_t n) {
    int neg = n > 0 && (le[n - 1] & 0x80);
    uint8_t *mag = malloc(n + 1);
    int carry = 1;
    for (size_t i = 0; i < n; i++) {
        int b = neg ? (uint8_t)~le[i] + carry : le[i];
        mag[i] = (uint8_t)b;
        carry = neg ? b >> 8 : 0;
    }
    char *digits = malloc(n * 3 + 2);
    size_t nd = 0;
    size_t len = n;
    while (len > 0 && mag[len - 1] == 0) {
        len--;
    }
    while (len > 0) {
        unsigned rem = 0;
        for (size_t i = len; i-- > 0;) {
            unsigned cur = (rem << 8) | mag[i];
            mag[i] = (uint8_t)(cur / 10);
            rem = cur % 10;
        }
        digits[nd++] = (char)('0' + rem);
        while (len > 0 && mag[len - 1] == 0) {
            len--;
        }
    }
    if (nd == 0) {
        digits[nd++] = '0';
    }
    if (neg) {
        sb_puts(out, "-");
    }
    for (size_t i = nd; i-- > 0;) {
        sb_put(out, &digits[i], 1);
    }
    free(digits);
    free(mag);
}

/* One code point of generalized UTF-8 at p (n bytes left); its length in *len. */
static inline uint32_t wtf8_next(const unsigned char *p, size_t n, size_t *len) {
    uint32_t c = p[0];
    size_t l = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
    if (l > n) {
        *len = 1;
        return 0xfffd;
    }
    uint32_t cp = l == 1 ? c : c & (0x7f >> l);
    for (size_t i = 1; i < l; i++) {
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    *len = l;
    return cp;
}

typedef struct {
    const brinery_value *v;
    size_t *reached; /* times each node is reached */
    long *label;     /* label assigned, or -1 */
    long next;
    sbuf *out;
} ctext_walk;

static inline int memoized_kind(const brinery_value *v, size_t node) {
    switch (brinery_value_kind(v, node)) {
    case BRINERY_KIND_STR:
    case BRINERY_KIND_SURROGATE_STR:
    case BRINERY_KIND_BYTES:
    case BRINERY_KIND_BYTEARRAY:
    case BRINERY_KIND_LIST:
    case BRINERY_KIND_DICT:
    case BRINERY_KIND_SET:
    case BRINERY_KIND_FROZENSET:
        return 1;
    case BRINERY_KIND_TUPLE:
        return items_len(v, node) > 0;
    default:
        return 0;
    }
}

static inline void ctext_count(ctext_walk *w, size_t node) {
    if (w->reached[node]++ > 0) {
        return;
    }
    size_t n = 0;
    if (brinery_value_items_len(w->v, node, &n) == BRINERY_OK) {
        for (size_t i = 0; i < n; i++) {
            ctext_count(w, item(w->v, node, i));
        }
    }
    if (brinery_value_entries_len(w->v, node, &n) == BRINERY_OK) {
        for (size_t i = 0; i < n; i++) {
            size_t k, x;
            brinery_value_entry(w->v, node, i, &k, &x);
            ctext_count(w, k);
            ctext_count(w, x);
        }
    }
}

static inline void ctext_bytes(sbuf *out, const uint8_t *p, size_t n) {
    sb_puts(out, "b\"");
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\\' || p[i] == '"') {
            sb_printf(out, "\\%c", p[i]);
        } else if (p[i] >= 0x20 && p[i] <= 0x7e) {
            sb_put(out, (const char *)&p[i], 1);
        } else {
            sb_printf(out, "\\x%02x", p[i]);
        }
    }
    sb_puts(out, "\"");
}

static inline void ctext_node(ctext_walk *w, size_t node) {
    const brinery_value *v = w->v;
    sbuf *out = w->out;
    if (w->reached[node] > 1 && memoized_kind(v, node)) {
        if (w->label[node] >= 0) {
            sb_printf(out, "#%ld#", w->label[node]);
            return;
        }
        w->label[node] = w->next++;
        sb_printf(out, "#%ld=", w->label[node]);
    }
    brinery_kind kind = brinery_value_kind(v, node);
    const char *open = "", *close = "";
    switch (kind) {
    case BRINERY_KIND_NONE:
        sb_puts(out, "None");
        return;
    case BRINERY_KIND_BOOL: {
        bool b = false;
        brinery_value_bool(v, node, &b);
        sb_puts(out, b ? "True" : "False");
        return;
    }
    case BRINERY_KIND_INT:
        sb_printf(out, "%lld", (long long)int_of(v, node));
        return;
    case BRINERY_KIND_BIGINT: {
        const uint8_t *le;
        size_t n;
        brinery_value_bigint(v, node, &le, &n);
        bigint_text(out, le, n);
        return;
    }
    case BRINERY_KIND_FLOAT: {
        double d = 0;
        brinery_value_float(v, node, &d);
        float_repr(out, d);
        return;
    }
    case BRINERY_KIND_STR:
    case BRINERY_KIND_SURROGATE_STR: {
        const char *s;
        size_t n;
        brinery_value_str(v, node, &s, &n);
        sb_puts(out, "s\"");
        for (size_t i = 0; i < n;) {
            size_t l;
            uint32_t cp = wtf8_next((const unsigned char *)s + i, n - i, &l);
            i += l;
            if (cp == '\\' || cp == '"') {
                sb_printf(out, "\\%c", (char)cp);
            } else if (cp >= 0x20 && cp <= 0x7e) {
                char c = (char)cp;
                sb_put(out, &c, 1);
            } else {
                sb_printf(out, "\\u{%x}", cp);
            }
        }
        sb_puts(out, "\"");
        return;
    }
    case BRINERY_KIND_BYTES:
    case BRINERY_KIND_BYTEARRAY: {
        const uint8_t *p;
        size_t n;
        brinery_value_bytes(v, node, &p, &n);
        if (kind == BRINERY_KIND_BYTEARRAY) {
            sb_puts(out, "bytearray(");
        }
        ctext_bytes(out, p, n);
        if (kind == BRINERY_KIND_BYTEARRAY) {
            sb_puts(out, ")");
        }
        return;
    }
    case BRINERY_KIND_LIST:
        open = "[", close = "]";
        break;
    case BRINERY_KIND_TUPLE:
        open = "(", close = items_len(v, node) == 1 ? ",)" : ")";
        break;
    case BRINERY_KIND_SET:
        open = "set{", close = "}";
        break;
    case BRINERY_KIND_FROZENSET:
        open = "frozenset{", close = "}";
        break;
    case BRINERY_KIND_DICT: {
        size_t n = 0;
        brinery_value_entries_len(v, node, &n);
        sb_puts(out, "{");
        for (size_t i = 0; i < n; i++) {
            size_t k, x;
            brinery_value_entry(v, node, i, &k, &x);
            if (i > 0) {
                sb_puts(out, ", ");
            }
            ctext_node(w, k);
            sb_puts(out, ": ");
            ctext_node(w, x);
        }
        sb_puts(out, "}");
        return;
    }
    default:
        sb_printf(out, "<kind %d>", (int)kind);
        return;
    }
    sb_puts(out, open);
    size_t n = items_len(v, node);
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            sb_puts(out, ", ");
        }
        ctext_node(w, item(v, node, i));
    }
    sb_puts(out, close);
}

/* The ctext of the value's root, appended to `out`. */
static inline void ctext(sbuf *out, const brinery_value *v) {
    size_t count = brinery_value_node_count(v);
    ctext_walk w = {v, calloc(count + 1, sizeof(size_t)), malloc((count + 1) * sizeof(long)), 0,
                    out};
    for (size_t i = 0; i < count; i++) {
        w.label[i] = -1;
    }
    ctext_count(&w, brinery_value_root(v));
    ctext_node(&w, brinery_value_root(v));
    free(w.reached);
    free(w.label);
}

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
