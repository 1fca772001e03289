/*
 * ctext for the C tests: the canonical text of a decoded value (the format of
 * core/tests/vectors/README.md), so a tree can be compared with what CPython made.
 * Included by brinery_test.h after its growable string; not a header to include alone.
 */
#ifndef BRINERY_CTEXT_H
#define BRINERY_CTEXT_H

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

#endif
