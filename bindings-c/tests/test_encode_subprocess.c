/*
 * The builder's output is what stock CPython reads: values built with the
 * brinery_encoder_* calls at protocols 0 to 5 are loaded by pickle.loads in a python3
 * subprocess and compared with the expected value, types included.
 */
#include "brinery_test.h"

typedef void (*build_fn)(brinery_encoder *e);

static void scalars(brinery_encoder *e) {
    brinery_encoder_begin_list(e);
    brinery_encoder_push_none(e);
    brinery_encoder_push_bool(e, true);
    brinery_encoder_push_bool(e, false);
    const int64_t ints[] = {0, -1, 255, 256, 65536, -2147483648LL, 2147483648LL, INT64_MAX,
                            INT64_MIN};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        brinery_encoder_push_int(e, ints[i]);
    }
    brinery_encoder_push_float(e, 1.5);
    brinery_encoder_push_float(e, -0.0);
    brinery_encoder_push_float(e, 1e300 * 1e300);
    brinery_encoder_push_float(e, 0.1);
    brinery_encoder_push_str(e, "", 0);
    const char *s = "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80 \\ \n";
    brinery_encoder_push_str(e, s, strlen(s));
    brinery_encoder_push_str(e, "a\0b", 3);
    brinery_encoder_push_bytes(e, NULL, 0);
    brinery_encoder_push_bytes(e, (const uint8_t *)"\x00\xff\n\\", 4);
    brinery_encoder_end_list(e);
}
static const char scalars_py[] =
    "[None, True, False, 0, -1, 255, 256, 65536, -2**31, 2**31, 2**63-1, -2**63, 1.5, -0.0, "
    "float('inf'), 0.1, '', 'h\\xe9llo \\u20ac \\U0001f600 \\\\ \\n', 'a\\x00b', b'', "
    "b'\\x00\\xff\\n\\\\']";

static void bigints(brinery_encoder *e) {
    static const uint8_t two64[] = {0, 0, 0, 0, 0, 0, 0, 0, 1};
    static const uint8_t minus_two100[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xf0};
    static const uint8_t small[] = {0x05, 0, 0, 0, 0, 0, 0, 0, 0, 0}; /* 5, not minimal */
    brinery_encoder_begin_tuple(e);
    brinery_encoder_push_bigint(e, two64, sizeof two64);
    brinery_encoder_push_bigint(e, minus_two100, sizeof minus_two100);
    brinery_encoder_push_bigint(e, small, sizeof small);
    brinery_encoder_push_bigint(e, NULL, 0);
    brinery_encoder_end_tuple(e);
}
static const char bigints_py[] = "(2**64, -2**100, 5, 0)";

static void containers(brinery_encoder *e) {
    brinery_encoder_begin_dict(e);
    brinery_encoder_push_str(e, "a", 1);
    brinery_encoder_begin_list(e);
    brinery_encoder_push_int(e, 1);
    brinery_encoder_begin_tuple(e);
    brinery_encoder_push_int(e, 2);
    brinery_encoder_push_int(e, 3);
    brinery_encoder_end_tuple(e);
    brinery_encoder_end_list(e);
    brinery_encoder_push_str(e, "b", 1);
    brinery_encoder_begin_dict(e);
    brinery_encoder_push_str(e, "c", 1);
    brinery_encoder_begin_set(e);
    brinery_encoder_push_int(e, 1);
    brinery_encoder_push_int(e, 2);
    brinery_encoder_end_set(e);
    brinery_encoder_end_dict(e);
    brinery_encoder_begin_tuple(e); /* a tuple key */
    brinery_encoder_push_int(e, 1);
    brinery_encoder_push_str(e, "x", 1);
    brinery_encoder_end_tuple(e);
    brinery_encoder_begin_frozenset(e);
    brinery_encoder_push_int(e, 3);
    brinery_encoder_end_frozenset(e);
    brinery_encoder_push_none(e);
    brinery_encoder_begin_set(e);
    brinery_encoder_end_set(e);
    brinery_encoder_end_dict(e);
}
static const char containers_py[] =
    "{'a': [1, (2, 3)], 'b': {'c': {1, 2}}, (1, 'x'): frozenset({3}), None: set()}";

static void tuples(brinery_encoder *e) {
    brinery_encoder_begin_list(e);
    for (int n = 0; n <= 5; n++) {
        brinery_encoder_begin_tuple(e);
        for (int i = 1; i <= n; i++) {
            brinery_encoder_push_int(e, i);
        }
        brinery_encoder_end_tuple(e);
    }
    brinery_encoder_begin_frozenset(e);
    brinery_encoder_end_frozenset(e);
    brinery_encoder_end_list(e);
}
static const char tuples_py[] =
    "[(), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), (1, 2, 3, 4, 5), frozenset()]";

static void big(brinery_encoder *e) {
    brinery_encoder_begin_list(e);
    brinery_encoder_begin_list(e);
    for (int i = 0; i < 2500; i++) {
        brinery_encoder_push_int(e, i);
    }
    brinery_encoder_end_list(e);
    brinery_encoder_begin_dict(e);
    for (int i = 0; i < 1500; i++) {
        brinery_encoder_push_int(e, i);
        brinery_encoder_push_int(e, -i);
    }
    brinery_encoder_end_dict(e);
    char *s = malloc(70000);
    memset(s, 'x', 70000);
    brinery_encoder_push_str(e, s, 70000);
    brinery_encoder_push_bytes(e, (const uint8_t *)s, 70000);
    free(s);
    brinery_encoder_end_list(e);
}
static const char big_py[] =
    "[list(range(2500)), {i: -i for i in range(1500)}, 'x' * 70000, b'x' * 70000]";

static void globals(brinery_encoder *e) {
    brinery_encoder_begin_tuple(e);
    brinery_encoder_push_global(e, "collections", 11, "OrderedDict", 11);
    brinery_encoder_push_global(e, "builtins", 8, "len", 3);
    brinery_encoder_push_float(e, 0.0 / 0.0 * 0);
    brinery_encoder_end_tuple(e);
}
static const char globals_py[] = "(collections.OrderedDict, len, float('nan'))";

static void deep(brinery_encoder *e) {
    for (int i = 0; i < 900; i++) {
        brinery_encoder_begin_list(e);
    }
    for (int i = 0; i < 900; i++) {
        brinery_encoder_end_list(e);
    }
}
static const char deep_py[] = "__import__('functools').reduce(lambda a, _: [a], range(899), [])";

int main(void) {
    static const struct {
        const char *name;
        build_fn build;
        const char *py;
    } cases[] = {
        {"scalars", scalars, scalars_py},     {"bigints", bigints, bigints_py},
        {"containers", containers, containers_py}, {"tuples", tuples, tuples_py},
        {"big", big, big_py},                 {"globals", globals, globals_py},
        {"deep", deep, deep_py},
    };
    py_checks c;
    py_check_begin(&c);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int p = 0; p <= 5; p++) {
            brinery_encoder *e = brinery_encoder_new(p);
            cases[i].build(e);
            brinery_error err = {0};
            brinery_bytes b = brinery_encoder_finish(e, &err);
            char name[64];
            snprintf(name, sizeof name, "%s.p%d", cases[i].name, p);
            CHECK(b.data != NULL, "%s: %s: %s", name, brinery_status_name(err.code), err.message);
            if (b.data != NULL) {
                CHECK(p < 2 || (b.len > 2 && b.data[0] == 0x80 && b.data[1] == p),
                      "%s: no PROTO %d header", name, p);
                py_check_add(&c, name, b.data, b.len, cases[i].py);
            }
            brinery_bytes_free(b);
            brinery_encoder_free(e);
        }
    }
    py_check_run(&c);
    return test_summary();
}
