/*
 * Hostile input: every prefix of real streams, lengths claiming 4 GiB and more, nesting
 * 100,000 deep, shared-reference bombs, and a few thousand random mutations of real
 * streams. Every call must return (a value or an error code with its byte offset), never
 * crash, hang or leak; the program runs under AddressSanitizer (leaks included) and
 * UndefinedBehaviorSanitizer.
 */
#include "brinery_test.h"

static int is_decode_error(brinery_status s) {
    return s >= BRINERY_DECODE_FAILED && s < BRINERY_ENCODE_FAILED;
}

/* Runs every entry point on `data` (brinery_dis when `with_dis`); returns whether loads
 * succeeded. */
static int exercise(const unsigned char *data, size_t len, const brinery_decode_options *opts,
                    int with_dis) {
    brinery_error err = {0};
    brinery_value *v = brinery_loads(data, len, opts, &err);
    int ok = v != NULL;
    if (v != NULL) {
        /* Touch every node through the accessors. */
        size_t n = brinery_value_node_count(v), count;
        for (size_t i = 0; i < n; i++) {
            brinery_value_kind(v, i);
            brinery_value_items_len(v, i, &count);
            brinery_value_entries_len(v, i, &count);
        }
        brinery_value_free(v);
    } else if (!(is_decode_error(err.code) && err.has_offset && err.offset <= len)) {
        CHECK(0, "loads: %s at %zu (len %zu): %s", brinery_status_name(err.code), err.offset, len,
              err.message);
    }
    char *json = brinery_pickle_to_json(data, len, opts, &err);
    brinery_string_free(json);
    if (with_dis) {
        char *dis = brinery_dis(data, len, &err);
        brinery_string_free(dis);
    }
    return ok;
}

static void truncated(void) {
    static const char *files[] = {
        "nested.p0.pickle",         "nested.p2.pickle",         "nested.p4.pickle",
        "dict_mixed_keys.p1.pickle", "dict_mixed_keys.p5.pickle", "cycle_tuple4.p0.pickle",
        "cycle_tuple4.p3.pickle",   "datetime.p4.pickle",       "ordereddict.p2.pickle",
        "set_of_frozensets.p4.pickle", "bytes_256.p3.pickle",   "str_bmp.p0.pickle",
        "int_300_digits.p2.pickle", "oob_buffers.p5.pickle",    "extension.p4.pickle",
        "persid_tuple.p1.pickle",   "newobj_ex.p4.pickle",      "bytearray_short.p2.pickle",
    };
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        size_t len;
        unsigned char *data = read_all(vector_path(files[f]), &len);
        CHECK(data != NULL, "%s missing", files[f]);
        if (data == NULL) {
            continue;
        }
        brinery_decode_options opts = brinery_decode_options_default();
        opts.buffers = 2;
        int decoded_prefixes = 0;
        for (size_t n = 0; n < len; n++) {
            /* A copy of exactly n bytes, so ASan catches any read past the end. */
            unsigned char *prefix = malloc(n ? n : 1);
            memcpy(prefix, data, n);
            decoded_prefixes += exercise(prefix, n, &opts, 1);
            free(prefix);
        }
        CHECK(decoded_prefixes == 0, "%s: %d strict prefixes decoded", files[f], decoded_prefixes);
        CHECK(exercise(data, len, &opts, 1), "%s: the whole stream fails", files[f]);
        free(data);
    }
}

static void expect_error(const char *what, const unsigned char *data, size_t len, int with_dis) {
    unsigned char *copy = malloc(len);
    memcpy(copy, data, len);
    brinery_error err = {0};
    brinery_value *v = brinery_loads(copy, len, NULL, &err);
    CHECK(v == NULL && is_decode_error(err.code) && err.has_offset && err.offset < len,
          "%s: %s at %zu: %s", what, brinery_status_name(err.code), err.offset, err.message);
    brinery_value_free(v);
    exercise(copy, len, NULL, with_dis);
    free(copy);
}

static void huge_lengths(void) {
#define HOSTILE(name, ...)                                      \
    do {                                                        \
        static const unsigned char s[] = {__VA_ARGS__};         \
        expect_error(name, s, sizeof s, 1);                     \
    } while (0)
    /* BINBYTES8 of 4 GiB, then a few bytes. */
    HOSTILE("BINBYTES8 4GiB", 0x80, 4, 0x8e, 0, 0, 0, 0, 1, 0, 0, 0, 'a', 'b', '.');
    HOSTILE("BINUNICODE8 4GiB", 0x80, 4, 0x8d, 0, 0, 0, 0, 1, 0, 0, 0, 'a', '.');
    HOSTILE("BINBYTES8 2^63", 0x80, 4, 0x8e, 0, 0, 0, 0, 0, 0, 0, 0x80, 'a', '.');
    HOSTILE("BYTEARRAY8 2^64-1", 0x80, 5, 0x96, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            '.');
    HOSTILE("BINBYTES 4GiB-1", 0x80, 3, 'B', 0xff, 0xff, 0xff, 0xff, 'a', '.');
    HOSTILE("BINUNICODE 4GiB-1", 0x80, 2, 'X', 0xff, 0xff, 0xff, 0xff, 'a', '.');
    HOSTILE("BINSTRING -1", 'T', 0xff, 0xff, 0xff, 0xff, 'a', '.');
    HOSTILE("LONG4 2GiB", 0x80, 2, 0x8b, 0xff, 0xff, 0xff, 0x7f, 1, '.');
    HOSTILE("FRAME 4GiB", 0x80, 4, 0x95, 0, 0, 0, 0, 1, 0, 0, 0, 'N', '.');
    HOSTILE("FRAME 2^64-1", 0x80, 4, 0x95, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 'N',
            '.');
    HOSTILE("LONG_BINGET 4G", 0x80, 2, 'j', 0xff, 0xff, 0xff, 0xff, '.');
    HOSTILE("LONG_BINPUT then GET", 0x80, 2, 'N', 'r', 0xff, 0xff, 0xff, 0xff, 'h', 0, '.');
    HOSTILE("PROTO 9", 0x80, 9, 'N', '.');
    HOSTILE("empty", 0);
    HOSTILE("unknown opcode", 0x80, 2, 0xff, '.');
#undef HOSTILE
}

static void deep_nesting(void) {
    const size_t depth = 100000;
    /* 100,000 MARKs. */
    unsigned char *marks = malloc(depth + 1);
    memset(marks, '(', depth);
    marks[depth] = '.';
    /* Not through brinery_dis: the core's dis indents every line by the mark depth, so
     * its output is quadratic (about 20 GB here). Reported; 10,000 marks are checked. */
    expect_error("100,000 marks", marks, depth + 1, 0);
    expect_error("10,000 marks", marks + depth - 10000, 10001, 1);
    free(marks);

    /* 100,000 nested lists: PROTO 2, EMPTY_LIST x n, APPEND x (n-1), STOP. */
    size_t len = 2 + depth + (depth - 1) + 1;
    unsigned char *lists = malloc(len);
    lists[0] = 0x80;
    lists[1] = 2;
    memset(lists + 2, ']', depth);
    memset(lists + 2 + depth, 'a', depth - 1);
    lists[len - 1] = '.';
    brinery_error err = {0};
    brinery_value *v = brinery_loads(lists, len, NULL, &err);
    CHECK(v == NULL && err.code == BRINERY_DECODE_TOO_DEEP, "100,000 lists, default limit: %s",
          brinery_status_name(err.code));
    brinery_value_free(v);
    /* With the depth limit lifted the tree is built (it is flat in memory), and the
     * recursive consumers refuse it instead of overflowing the stack. */
    brinery_decode_options opts = brinery_decode_options_default();
    opts.max_depth = SIZE_MAX;
    v = brinery_loads(lists, len, &opts, &err);
    if (v != NULL) {
        CHECK(brinery_value_node_count(v) >= depth, "node count");
        brinery_value_free(v);
        char *json = brinery_pickle_to_json(lists, len, &opts, &err);
        CHECK(json == NULL && err.code == BRINERY_JSON_TOO_DEEP, "json of 100,000 lists: %s",
              brinery_status_name(err.code));
        brinery_string_free(json);
    } else {
        CHECK(is_decode_error(err.code), "100,000 lists, no limit: %s",
              brinery_status_name(err.code));
    }
    char *dis = brinery_dis(lists, len, &err);
    CHECK(dis != NULL || is_decode_error(err.code), "dis of 100,000 lists: %s",
          brinery_status_name(err.code));
    brinery_string_free(dis);
    free(lists);

    /* 100,000 nested 1-tuples at protocol 2: EMPTY_TUPLE, TUPLE1 x n. */
    len = 2 + 1 + depth + 1;
    unsigned char *tuples = malloc(len);
    tuples[0] = 0x80;
    tuples[1] = 2;
    tuples[2] = ')';
    memset(tuples + 3, 0x85, depth);
    tuples[len - 1] = '.';
    v = brinery_loads(tuples, len, NULL, &err);
    CHECK(v == NULL && err.code == BRINERY_DECODE_TOO_DEEP, "100,000 tuples: %s",
          brinery_status_name(err.code));
    brinery_value_free(v);
    opts.max_depth = 100000;
    v = brinery_loads(tuples, len, &opts, &err);
    CHECK(v == NULL && err.code == BRINERY_DECODE_TOO_DEEP, "100,001 levels, limit 100,000: %s",
          brinery_status_name(err.code));
    brinery_value_free(v);
    opts.max_depth = 100001;
    v = brinery_loads(tuples, len, &opts, &err);
    CHECK(v != NULL, "100,001 levels, limit 100,001: %s", err.message);
    brinery_value_free(v);
    char *json = brinery_pickle_to_json(tuples, len, &opts, &err);
    CHECK(json == NULL && err.code == BRINERY_JSON_TOO_DEEP, "json of 100,000 tuples: %s",
          brinery_status_name(err.code));
    brinery_string_free(json);
    free(tuples);
}

/* l0 = []; l1 = [l0] * 10; ... l30 = [l29] * 10: 10^30 paths, 31 lists. */
static void reference_bomb(void) {
    sbuf s = {0};
    sb_put(&s, "\x80\x02]q\x00", 5);
    for (int level = 1; level <= 30; level++) {
        sb_put(&s, "](", 2);
        for (int i = 0; i < 10; i++) {
            unsigned char get[2] = {'h', (unsigned char)(level - 1)};
            sb_put(&s, (const char *)get, 2);
        }
        unsigned char put[3] = {'e', 'q', (unsigned char)level};
        sb_put(&s, (const char *)put, 3);
    }
    sb_put(&s, ".", 1);
    brinery_error err = {0};
    brinery_value *v = brinery_loads((const uint8_t *)s.p, s.len, NULL, &err);
    CHECK(v != NULL, "bomb: %s", err.message);
    if (v != NULL) {
        CHECK(brinery_value_node_count(v) < 1000, "bomb: %zu nodes", brinery_value_node_count(v));
        brinery_value_free(v);
    }
    char *json = brinery_pickle_to_json((const uint8_t *)s.p, s.len, NULL, &err);
    CHECK(json != NULL && strlen(json) < 10000, "bomb json: %s", json ? "too long" : err.message);
    brinery_string_free(json);
    sb_free(&s);
}

/* One 8,000-byte str stored once and fetched 4,000 times through the memo (16 KB of
 * stream): written out in full each time that was 32 MB of JSON. Now the str is written
 * once and referred to, and the text is bounded by max_alloc. */
static void repeated_long_string(void) {
    sbuf s = {0};
    sb_put(&s, "\x80\x02]q\x00X\x40\x1f\x00\x00", 10);
    for (int i = 0; i < 8000; i++) {
        sb_put(&s, "a", 1);
    }
    sb_put(&s, "q\x01" "0(", 4);
    for (int i = 0; i < 4000; i++) {
        sb_put(&s, "h\x01", 2);
    }
    sb_put(&s, "e.", 2);
    brinery_decode_options opts = brinery_decode_options_default();
    opts.max_alloc = 1 << 20;
    brinery_error err = {0};
    char *json = brinery_pickle_to_json((const uint8_t *)s.p, s.len, &opts, &err);
    CHECK(json != NULL, "repeated str: %s", err.message);
    if (json != NULL) {
        CHECK(strlen(json) < 4 * s.len, "repeated str: %zu bytes of json", strlen(json));
        brinery_bytes back = brinery_json_to_pickle(json, strlen(json), 4, &err);
        CHECK(back.data != NULL, "repeated str json does not read back: %s", err.message);
        brinery_bytes_free(back);
        brinery_string_free(json);
    }
    /* The output is bounded by the same limit as the decoder. */
    opts.max_alloc = 40000;
    json = brinery_pickle_to_json((const uint8_t *)s.p, s.len, &opts, &err);
    CHECK(json == NULL && err.code == BRINERY_DECODE_ALLOC_LIMIT, "json past max_alloc: %s",
          brinery_status_name(err.code));
    brinery_string_free(json);
    sb_free(&s);
}

/* With no options (or zeros) the limits are the core's Limits::for_input(len), as in
 * Python and Node: 1 MiB + 64 bytes per stream byte of allocation. 64 memo keys, each
 * 4,000 past the last, grow the memo by 32 KB per 5-byte opcode (2 MB from 326 bytes):
 * refused by default, accepted when max_alloc lifts the bound. */
static void default_limits_follow_the_stream(void) {
    sbuf s = {0};
    sb_put(&s, "\x80\x02N", 3);
    for (uint32_t i = 1; i <= 64; i++) {
        uint32_t key = i * 4000;
        unsigned char put[5] = {'r', (unsigned char)key, (unsigned char)(key >> 8),
                                (unsigned char)(key >> 16), (unsigned char)(key >> 24)};
        sb_put(&s, (const char *)put, 5);
    }
    sb_put(&s, ".", 1);
    size_t bound = ((size_t)1 << 20) + 64 * s.len;
    brinery_error err = {0};
    brinery_value *v = brinery_loads((const uint8_t *)s.p, s.len, NULL, &err);
    CHECK(v == NULL && err.code == BRINERY_DECODE_ALLOC_LIMIT, "memo growth by default: %s",
          brinery_status_name(err.code));
    brinery_value_free(v);
    brinery_decode_options opts = brinery_decode_options_default();
    v = brinery_loads((const uint8_t *)s.p, s.len, &opts, &err);
    CHECK(v == NULL && err.code == BRINERY_DECODE_ALLOC_LIMIT, "zeroed limits: %s",
          brinery_status_name(err.code));
    brinery_value_free(v);
    char *json = brinery_pickle_to_json((const uint8_t *)s.p, s.len, NULL, &err);
    CHECK(json == NULL && err.code == BRINERY_DECODE_ALLOC_LIMIT, "json by default: %s",
          brinery_status_name(err.code));
    brinery_string_free(json);
    opts.max_alloc = bound;
    v = brinery_loads((const uint8_t *)s.p, s.len, &opts, &err);
    CHECK(v == NULL && err.code == BRINERY_DECODE_ALLOC_LIMIT, "max_alloc = default: %s",
          brinery_status_name(err.code));
    brinery_value_free(v);
    opts.max_alloc = 8 * bound;
    v = brinery_loads((const uint8_t *)s.p, s.len, &opts, &err);
    CHECK(v != NULL, "max_alloc lifted: %s", err.message);
    brinery_value_free(v);
    sb_free(&s);
}

/* JSON that brinery_json_to_pickle could not read back is refused when written: a list
 * as a dict key (found by fuzzing: 80047d5d4e732e), a global name holding a newline. */
static void unreadable_json_refused(void) {
    static const unsigned char list_key[] = {0x80, 0x04, 0x7d, 0x5d, 0x4e, 0x73, 0x2e};
    static const unsigned char newline[] = "\x80\x04\x8c\x03mod\x8c\x03" "a\nb\x93.";
    brinery_error err = {0};
    char *json = brinery_pickle_to_json(list_key, sizeof list_key, NULL, &err);
    CHECK(json == NULL && err.code == BRINERY_JSON_UNREPRESENTABLE, "list key: %s",
          brinery_status_name(err.code));
    brinery_string_free(json);
    json = brinery_pickle_to_json(newline, sizeof newline - 1, NULL, &err);
    CHECK(json == NULL && err.code == BRINERY_JSON_UNREPRESENTABLE, "newline global: %s",
          brinery_status_name(err.code));
    brinery_string_free(json);
}

static int hexval(char c) {
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

/* The hostile streams of issue #20 (core/tests/vectors/hostile/streams.json, read
 * through the JSON bridge, shared with the core, Python and Node tests): each decodes to
 * a value or fails with a coded error at an offset inside the stream, with and without
 * the stream's allowlist, and its JSON is bounded by max_alloc. The streams marked
 * `c: "error"` (a wildcard that would admit uuid.os.system, an opcode across a frame's
 * end) must fail. */
static void shared_hostile_streams(void) {
    brinery_value *m = load_json_file(vector_path("hostile/streams.json"));
    CHECK(m != NULL, "cannot read hostile/streams.json");
    if (m == NULL) {
        return;
    }
    size_t list = dict_get(m, brinery_value_root(m), "cases");
    CHECK(items_len(m, list) >= 30, "%zu hostile streams", items_len(m, list));
    for (size_t i = 0; i < items_len(m, list); i++) {
        size_t c = item(m, list, i);
        char *name = str_dup(m, dict_get(m, c, "name"));
        sbuf data = {0};
        size_t parts = dict_get(m, c, "parts");
        for (size_t j = 0; j < items_len(m, parts); j++) {
            size_t part = item(m, parts, j);
            char *hex = str_dup(m, item(m, part, 0));
            int64_t times = int_of(m, item(m, part, 1));
            size_t n = strlen(hex) / 2;
            char *bytes = malloc(n + 1);
            for (size_t k = 0; k < n; k++) {
                bytes[k] = (char)(hexval(hex[2 * k]) << 4 | hexval(hex[2 * k + 1]));
            }
            for (int64_t t = 0; t < times; t++) {
                sb_put(&data, bytes, n);
            }
            free(bytes);
            free(hex);
        }
        CHECK((int64_t)data.len == int_of(m, dict_get(m, c, "len")), "%s: length", name);
        const char *allowed[8];
        size_t allowed_len = 0;
        char *owned[8] = {0};
        size_t allow = dict_get(m, c, "allow");
        if (allow != BRINERY_NO_NODE) {
            for (size_t j = 0; j < items_len(m, allow) && j < 8; j++) {
                owned[j] = str_dup(m, item(m, allow, j));
                allowed[allowed_len++] = owned[j];
            }
        }
        brinery_decode_options opts = brinery_decode_options_default();
        opts.max_alloc = 1 << 20;
        for (int restricted = 0; restricted < 2; restricted++) {
            opts.restrict_globals = restricted;
            opts.allowed_globals = allowed_len ? allowed : NULL;
            opts.allowed_globals_len = allowed_len;
            brinery_error err = {0};
            brinery_value *v = brinery_loads((const uint8_t *)data.p, data.len, &opts, &err);
            CHECK(v != NULL || (err.has_offset && err.offset < data.len), "%s: %s without offset",
                  name, err.message);
            brinery_value_free(v);
            char *json = brinery_pickle_to_json((const uint8_t *)data.p, data.len, &opts, &err);
            CHECK(json != NULL || err.code != BRINERY_OK, "%s: json", name);
            CHECK(json == NULL || strlen(json) <= opts.max_alloc, "%s: json too long", name);
            brinery_string_free(json);
        }
        size_t c_expect = dict_get(m, c, "c");
        if (c_expect != BRINERY_NO_NODE) {
            opts.restrict_globals = true;
            brinery_error err = {0};
            brinery_value *v = brinery_loads((const uint8_t *)data.p, data.len, &opts, &err);
            CHECK(v == NULL && err.has_offset, "%s: must fail with an offset", name);
            brinery_value_free(v);
        }
        for (size_t j = 0; j < 8; j++) {
            free(owned[j]);
        }
        sb_free(&data);
        free(name);
    }
    brinery_value_free(m);
}

static uint64_t rng = 0x2545F4914F6CDD1DULL;
static uint32_t next_random(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

static void mutations(void) {
    static const char *files[] = {"nested.p2.pickle", "nested.p4.pickle", "dict_mixed_keys.p0.pickle",
                                  "datetime.p3.pickle", "cycle_tuple_nested.p5.pickle",
                                  "shared_deep.p1.pickle"};
    int runs = 0;
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        size_t len;
        unsigned char *data = read_all(vector_path(files[f]), &len);
        if (data == NULL || len == 0) {
            CHECK(0, "%s missing", files[f]);
            free(data);
            continue;
        }
        for (int round = 0; round < 600; round++) {
            unsigned char *m = malloc(len);
            memcpy(m, data, len);
            int edits = 1 + (int)(next_random() % 4);
            for (int e = 0; e < edits; e++) {
                size_t at = next_random() % len;
                switch (next_random() % 3) {
                case 0:
                    m[at] = (unsigned char)next_random();
                    break;
                case 1:
                    m[at] ^= (unsigned char)(1u << (next_random() % 8));
                    break;
                default:
                    m[at] = (unsigned char)"()].ahqrtKMJX\x8c\x94\x95"[next_random() % 17];
                }
            }
            exercise(m, len, NULL, 1);
            free(m);
            runs++;
        }
        free(data);
    }
    CHECK(runs == 3600, "%d mutation runs", runs);
}

int main(void) {
    truncated();
    huge_lengths();
    deep_nesting();
    reference_bomb();
    repeated_long_string();
    default_limits_follow_the_stream();
    unreadable_json_refused();
    shared_hostile_streams();
    mutations();
    return test_summary();
}
