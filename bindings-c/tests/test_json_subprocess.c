/*
 * The JSON bridge both ways. Pickle to JSON: exact JSON for CPython-made streams of
 * every kind JSON lacks (tuples, bytes, big ints, sets, cycles, globals and calls,
 * persistent ids, extension codes). Round trips: for every shared vector,
 * pickle -> JSON -> pickle -> JSON is a fixpoint, and for plain data without shared
 * immutables the re-encoded pickle is CPython's byte for byte. JSON to pickle: documents
 * in brinery's JSON form are encoded at protocols 0 to 5 and loaded by CPython in a
 * subprocess. Errors: syntax (with byte offset) and form errors.
 */
#include "brinery_test.h"

static char *json_of_file(const char *file, brinery_error *err) {
    size_t len;
    unsigned char *data = read_all(vector_path(file), &len);
    if (data == NULL) {
        return NULL;
    }
    brinery_decode_options opts = brinery_decode_options_default();
    opts.buffers = 16;
    char *json = brinery_pickle_to_json(data, len, &opts, err);
    free(data);
    return json;
}

static void exact_json(void) {
    static const struct {
        const char *file, *json;
    } cases[] = {
        {"none.p0.pickle", "null"},
        {"tuple_2.p2.pickle", "{\"$tuple\":[10,11]}"},
        {"bytes_short.p3.pickle", "{\"$bytes\":\"AAFhYmN/gP9cJyI=\"}"},
        {"bytes_short.p1.pickle", "{\"$bytes\":\"AAFhYmN/gP9cJyI=\"}"},
        {"int_2p70.p2.pickle", "{\"$int\":\"1180591620717411303424\"}"},
        {"int_2p70.p0.pickle", "{\"$int\":\"1180591620717411303424\"}"},
        {"set_ints.p4.pickle", "{\"$set\":[1,2,3,1000,-5]}"},
        {"set_ints.p2.pickle", "{\"$set\":[1,2,3,1000,-5]}"},
        {"cycle_list.p2.pickle", "{\"$def\":0,\"value\":[{\"$ref\":0}]}"},
        {"shared_list.p4.pickle", "[{\"$def\":0,\"value\":[1,2]},{\"$ref\":0}]"},
        {"cycle_tuple_root.p2.pickle", "{\"$def\":0,\"value\":{\"$tuple\":[[{\"$ref\":0}],5]}}"},
        {"float_nan.p2.pickle", "{\"$float\":\"nan\"}"},
        {"float_1e16.p0.pickle", "1e+16"},
        {"str_lone_surrogate.p4.pickle", "{\"$wtf8\":\"7aCA\"}"},
        {"bytearray_short.p5.pickle", "{\"$bytearray\":\"AHh5ev8=\"}"},
        {"datetime.p2.pickle",
         "{\"$object\":\"reduce\",\"callable\":{\"$global\":[\"datetime\",\"datetime\"]},"
         "\"args\":{\"$tuple\":[{\"$bytes\":\"B+gCHQ0tHgHiQA==\"}]}}"},
        {"ordereddict.p4.pickle",
         "{\"$object\":\"reduce\",\"callable\":{\"$global\":[\"collections\",\"OrderedDict\"]},"
         "\"args\":{\"$tuple\":[]},\"entries\":[[\"b\",1],[\"a\",[2]]]}"},
        {"persid_str.p2.pickle", "[\"before\",{\"$persid\":\"doc:7\"},\"after\"]"},
        {"dict_mixed_keys.p4.pickle",
         "{\"$dict\":[[1,\"one\"],[{\"$tuple\":[2,3]},\"tuple\"],[{\"$frozenset\":[4]},"
         "\"frozenset\"],[\"s\",5],[null,6],[1.5,7],[{\"$bytes\":\"Yg==\"},8],[{\"$tuple\":[]},9],"
         "[false,10]]}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        brinery_error err = {0};
        char *json = json_of_file(cases[i].file, &err);
        CHECK(json != NULL && strcmp(json, cases[i].json) == 0, "%s:\n  got  %s\n  want %s",
              cases[i].file, json ? json : err.message, cases[i].json);
        brinery_string_free(json);
    }
}

/* pickle -> JSON -> pickle (protocol p) -> JSON must give the same JSON. */
static void round_trips(void) {
    brinery_value *m = load_json_file(vector_path("manifest.json"));
    CHECK(m != NULL, "manifest");
    if (m == NULL) {
        return;
    }
    size_t list = dict_get(m, brinery_value_root(m), "cases");
    int exact = 0;
    for (size_t i = 0; i < items_len(m, list); i++) {
        size_t c = item(m, list, i);
        char *name = str_dup(m, dict_get(m, c, "name"));
        bool plain = false;
        brinery_value_bool(m, dict_get(m, c, "plain"), &plain);
        size_t protocols = dict_get(m, c, "protocols");
        for (size_t j = 0; j < items_len(m, protocols); j++) {
            int p = (int)int_of(m, item(m, protocols, j));
            char file[256];
            snprintf(file, sizeof file, "%s.p%d.pickle", name, p);
            brinery_error err = {0};
            char *j1 = json_of_file(file, &err);
            CHECK(j1 != NULL, "%s to json: %s: %s", file, brinery_status_name(err.code),
                  err.message);
            if (j1 == NULL) {
                continue;
            }
            brinery_bytes back = brinery_json_to_pickle(j1, strlen(j1), p, &err);
            CHECK(back.data != NULL, "%s back to pickle: %s: %s", file,
                  brinery_status_name(err.code), err.message);
            if (back.data != NULL) {
                brinery_decode_options opts = brinery_decode_options_default();
                opts.buffers = 16;
                char *j2 = brinery_pickle_to_json(back.data, back.len, &opts, &err);
                CHECK(j2 != NULL && strcmp(j1, j2) == 0, "%s: json round trip\n  %.200s\n  %.200s",
                      file, j1, j2 ? j2 : err.message);
                brinery_string_free(j2);
                /* Plain data whose identity JSON keeps: CPython's bytes exactly. */
                char txt[256];
                snprintf(txt, sizeof txt, "%s.txt", name);
                size_t tlen = 0, len = 0;
                char *t = plain ? (char *)read_all(vector_path(txt), &tlen) : NULL;
                if (t != NULL && strchr(t, '#') == NULL) {
                    unsigned char *orig = read_all(vector_path(file), &len);
                    CHECK(orig != NULL && len == back.len && memcmp(orig, back.data, len) == 0,
                          "%s: json_to_pickle differs from CPython's bytes", file);
                    free(orig);
                    exact++;
                }
                free(t);
            }
            brinery_bytes_free(back);
            brinery_string_free(j1);
        }
        free(name);
    }
    CHECK(exact > 400, "only %d byte-exact comparisons", exact);
    brinery_value_free(m);
}

static void to_cpython(void) {
    static const struct {
        const char *name, *json, *py;
    } cases[] = {
        {"plain", "{\"a\":[1,2.5,null,true,false,-7],\"b\":\"caf\\u00e9 \\ud83d\\ude00\"}",
         "{'a': [1, 2.5, None, True, False, -7], 'b': 'caf\\xe9 \\U0001f600'}"},
        {"tagged",
         "{\"$tuple\":[{\"$bytes\":\"AP8=\"},{\"$bytearray\":\"YWJj\"},{\"$set\":[1,2]},"
         "{\"$frozenset\":[]},{\"$float\":\"-inf\"},{\"$int\":\"-123456789012345678901234567890\"},"
         "18446744073709551615]}",
         "(b'\\x00\\xff', bytearray(b'abc'), {1, 2}, frozenset(), float('-inf'), "
         "-123456789012345678901234567890, 18446744073709551615)"},
        {"dict_form", "{\"$dict\":[[1,\"one\"],[{\"$tuple\":[1,2]},null],[\"$x\",{}]]}",
         "{1: 'one', (1, 2): None, '$x': {}}"},
        {"cycle", "{\"$def\":0,\"value\":[1,{\"$ref\":0}]}",
         "lambda v: type(v) is list and len(v) == 2 and v[0] == 1 and v[1] is v"},
        {"shared", "[{\"$def\":0,\"value\":[]},{\"$ref\":0},{\"$def\":1,\"value\":{\"k\":2}},"
                   "{\"$ref\":1}]",
         "lambda v: v == [[], [], {'k': 2}, {'k': 2}] and v[0] is v[1] and v[2] is v[3]"},
        {"global", "{\"$global\":[\"collections\",\"OrderedDict\"]}", "collections.OrderedDict"},
        {"reduce",
         "{\"$object\":\"reduce\",\"callable\":{\"$global\":[\"collections\",\"OrderedDict\"]},"
         "\"args\":{\"$tuple\":[[{\"$tuple\":[\"a\",1]}]]}}",
         "collections.OrderedDict([('a', 1)])"},
        {"reduce_entries",
         "{\"$object\":\"reduce\",\"callable\":{\"$global\":[\"collections\",\"OrderedDict\"]},"
         "\"args\":{\"$tuple\":[]},\"entries\":[[\"b\",1],[\"a\",[2]]]}",
         "collections.OrderedDict([('b', 1), ('a', [2])])"},
    };
    py_checks c;
    py_check_begin(&c);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int p = 0; p <= 5; p++) {
            brinery_error err = {0};
            brinery_bytes b = brinery_json_to_pickle(cases[i].json, strlen(cases[i].json), p, &err);
            char name[64];
            snprintf(name, sizeof name, "%s.p%d", cases[i].name, p);
            CHECK(b.data != NULL, "%s: %s: %s", name, brinery_status_name(err.code), err.message);
            if (b.data != NULL) {
                py_check_add(&c, name, b.data, b.len, cases[i].py);
            }
            brinery_bytes_free(b);
        }
    }
    py_check_run(&c);
}

static void errors(void) {
    static const struct {
        const char *json;
        brinery_status code;
        size_t offset; /* (size_t)-1: none expected */
    } cases[] = {
        {"[1, 2,]", BRINERY_JSON_SYNTAX, 6},
        {"{\"a\": 1\n  \"b\": 2}", BRINERY_JSON_SYNTAX, 10},
        {"", BRINERY_JSON_SYNTAX, 0},
        {"{\"$nope\": 1}", BRINERY_JSON_FORM, (size_t)-1},
        {"{\"$ref\": 0}", BRINERY_JSON_FORM, (size_t)-1},
        {"{\"$bytes\": \"not base64!\"}", BRINERY_JSON_FORM, (size_t)-1},
        {"{\"$int\": \"12x\"}", BRINERY_JSON_FORM, (size_t)-1},
        {"{\"$set\": [[1]]}", BRINERY_JSON_FORM, (size_t)-1},
        {"{\"$tuple\": [], \"extra\": 1}", BRINERY_JSON_FORM, (size_t)-1},
        {"{\"$def\": 0, \"value\": 1, \"x\": 2}", BRINERY_JSON_FORM, (size_t)-1},
        {"{\"$def\": 0, \"value\": {\"$set\": [{\"$ref\": 0}]}}", BRINERY_JSON_FORM, (size_t)-1},
        {"{\"$def\": 0, \"value\": {\"$ref\": 0}}", BRINERY_JSON_FORM, (size_t)-1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        brinery_error err = {0};
        brinery_bytes b = brinery_json_to_pickle(cases[i].json, strlen(cases[i].json), 4, &err);
        CHECK(b.data == NULL && err.code == cases[i].code, "%s: got %s (%s)", cases[i].json,
              brinery_status_name(err.code), err.message);
        if (cases[i].offset != (size_t)-1) {
            CHECK(err.has_offset && err.offset == cases[i].offset, "%s: offset %zu, want %zu",
                  cases[i].json, err.offset, cases[i].offset);
        }
        brinery_bytes_free(b);
    }
    brinery_error err = {0};
    brinery_bytes b = brinery_json_to_pickle("1", 1, 6, &err);
    CHECK(b.data == NULL && err.code == BRINERY_INVALID_ARGUMENT, "protocol 6");
    b = brinery_json_to_pickle("\"\xff\"", 3, 4, &err);
    CHECK(b.data == NULL && err.code == BRINERY_JSON_SYNTAX, "invalid utf-8: %s",
          brinery_status_name(err.code));
    /* Nesting: 128 levels are read, deeper is an error (not a stack overflow). */
    sbuf deep = {0};
    for (int i = 0; i < 100000; i++) {
        sb_puts(&deep, "[");
    }
    b = brinery_json_to_pickle(deep.p, deep.len, 4, &err);
    CHECK(b.data == NULL && err.code == BRINERY_JSON_TOO_DEEP, "100,000 [: %s",
          brinery_status_name(err.code));
    sb_free(&deep);
}

int main(void) {
    exact_json();
    round_trips();
    to_cpython();
    errors();
    return test_summary();
}
