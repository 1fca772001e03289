/*
 * The error contract: status codes are unique and named, NULL arguments and misuse are
 * error codes (never crashes), the error struct carries code, message and offset,
 * accessors refuse wrong kinds and bad ids, and the builder refuses unbalanced or
 * otherwise invalid sequences and stays usable.
 */
#include "brinery_test.h"

static void status_codes_are_unique(void) {
    /* Every code in 0..1000 with a name must have a name no other code has. */
    const char *names[1000];
    int known = 0;
    for (int code = 0; code < 1000; code++) {
        names[code] = brinery_status_name(code);
        if (strcmp(names[code], "BRINERY_UNKNOWN_STATUS") == 0) {
            continue;
        }
        known++;
        for (int other = 0; other < code; other++) {
            CHECK(strcmp(names[code], names[other]) != 0, "codes %d and %d are both %s", other,
                  code, names[code]);
        }
    }
    CHECK(known >= 40, "only %d named codes", known);
    CHECK(strcmp(brinery_status_name(BRINERY_OK), "BRINERY_OK") == 0, "name of 0");
    CHECK(strcmp(brinery_status_name(BRINERY_FORBIDDEN_GLOBAL), "BRINERY_FORBIDDEN_GLOBAL") == 0,
          "name of BRINERY_FORBIDDEN_GLOBAL");
    CHECK(strcmp(brinery_status_name(-5), "BRINERY_UNKNOWN_STATUS") == 0, "negative code");
}

static void null_arguments(void) {
    brinery_error err = {0};
    CHECK(brinery_loads(NULL, 5, NULL, &err) == NULL && err.code == BRINERY_NULL_ARGUMENT,
          "loads(NULL, 5): %s", brinery_status_name(err.code));
    CHECK(brinery_loads(NULL, 0, NULL, &err) == NULL && err.code >= BRINERY_DECODE_FAILED &&
              err.code < BRINERY_ENCODE_FAILED,
          "loads(NULL, 0): %s", brinery_status_name(err.code));
    CHECK(brinery_loads(NULL, 0, NULL, NULL) == NULL, "loads with NULL err");
    CHECK(brinery_dis(NULL, 3, &err) == NULL && err.code == BRINERY_NULL_ARGUMENT, "dis(NULL)");
    CHECK(brinery_pickle_to_json(NULL, 3, NULL, &err) == NULL &&
              err.code == BRINERY_NULL_ARGUMENT,
          "pickle_to_json(NULL)");
    brinery_bytes b = brinery_json_to_pickle(NULL, 3, 4, &err);
    CHECK(b.data == NULL && err.code == BRINERY_NULL_ARGUMENT, "json_to_pickle(NULL)");
    b = brinery_encoder_finish(NULL, &err);
    CHECK(b.data == NULL && err.code == BRINERY_NULL_ARGUMENT, "finish(NULL)");
    CHECK(brinery_encoder_push_int(NULL, 1) == BRINERY_NULL_ARGUMENT, "push_int(NULL)");
    CHECK(brinery_encoder_end_list(NULL) == BRINERY_NULL_ARGUMENT, "end_list(NULL)");
    CHECK(brinery_value_root(NULL) == BRINERY_NO_NODE, "root(NULL)");
    CHECK(brinery_value_node_count(NULL) == 0, "node_count(NULL)");
    CHECK(brinery_value_kind(NULL, 0) == BRINERY_KIND_INVALID, "kind(NULL)");
    int64_t i;
    CHECK(brinery_value_int(NULL, 0, &i) == BRINERY_NULL_ARGUMENT, "int(NULL)");
    /* Freeing NULL is a no-op for every free function. */
    brinery_value_free(NULL);
    brinery_encoder_free(NULL);
    brinery_string_free(NULL);
    brinery_bytes_free((brinery_bytes){NULL, 0});
    CHECK(brinery_encoder_new(6) == NULL, "protocol 6");
    CHECK(brinery_encoder_new(-1) == NULL, "protocol -1");
    brinery_decode_options opts = brinery_decode_options_default();
    opts.py2_strings = 7;
    static const unsigned char none[] = {0x80, 0x02, 'N', '.'};
    CHECK(brinery_loads(none, sizeof none, &opts, &err) == NULL &&
              err.code == BRINERY_INVALID_ARGUMENT,
          "py2_strings 7");
    opts = brinery_decode_options_default();
    opts.restrict_globals = true;
    opts.allowed_globals_len = 2;
    CHECK(brinery_loads(none, sizeof none, &opts, &err) == NULL &&
              err.code == BRINERY_NULL_ARGUMENT,
          "allowed_globals NULL with len 2");
}

static void error_struct(void) {
    /* pickle.dumps([1, 2]) at protocol 2, cut short inside BININT1's argument. */
    static const unsigned char cut[] = {0x80, 0x02, ']', 'q', 0x00, '(', 'K', 0x01, 'K'};
    brinery_error err = {0};
    brinery_value *v = brinery_loads(cut, sizeof cut, NULL, &err);
    CHECK(v == NULL, "truncated stream decoded");
    CHECK(err.code == BRINERY_DECODE_TRUNCATED, "code %s", brinery_status_name(err.code));
    CHECK(err.has_offset && err.offset == 8, "offset %zu", err.offset);
    CHECK(strlen(err.message) > 0 && strlen(err.message) < BRINERY_MESSAGE_SIZE, "message '%s'",
          err.message);
    /* A success resets the struct. */
    static const unsigned char ok[] = {0x80, 0x02, 'K', 0x07, '.'};
    v = brinery_loads(ok, sizeof ok, NULL, &err);
    CHECK(v != NULL && err.code == BRINERY_OK && err.message[0] == 0, "reset after success");
    brinery_value_free(v);
}

static void allowlist(void) {
    /* pickle.dumps(collections.OrderedDict(), protocol=2) and os.system at protocol 0. */
    static const unsigned char od[] = "\x80\x02" "ccollections\nOrderedDict\nq\x00)Rq\x01.";
    static const unsigned char sys[] = "cos\nsystem\np0\n.";
    const char *allowed[] = {"collections.OrderedDict", "datetime.*"};
    brinery_decode_options opts = brinery_decode_options_default();
    opts.restrict_globals = true;
    opts.allowed_globals = allowed;
    opts.allowed_globals_len = 2;
    brinery_error err = {0};
    brinery_value *v = brinery_loads(od, sizeof od - 1, &opts, &err);
    CHECK(v != NULL, "allowed global refused: %s", err.message);
    brinery_value_free(v);
    v = brinery_loads(sys, sizeof sys - 1, &opts, &err);
    CHECK(v == NULL && err.code == BRINERY_FORBIDDEN_GLOBAL, "os.system allowed: %s",
          brinery_status_name(err.code));
    CHECK(strstr(err.message, "os.system") != NULL, "message does not name it: %s", err.message);
    CHECK(err.has_offset && err.offset == 0, "forbidden global without its offset");
    char *json = brinery_pickle_to_json(sys, sizeof sys - 1, &opts, &err);
    CHECK(json == NULL && err.code == BRINERY_FORBIDDEN_GLOBAL, "json bypasses the allowlist");
    /* Unrestricted (the default), the global is an inert node. */
    v = brinery_loads(sys, sizeof sys - 1, NULL, &err);
    CHECK(v != NULL && brinery_value_kind(v, brinery_value_root(v)) == BRINERY_KIND_GLOBAL,
          "default options: %s", err.message);
    const char *m, *n;
    size_t ml, nl;
    CHECK(brinery_value_global(v, brinery_value_root(v), &m, &ml, &n, &nl) == BRINERY_OK &&
              ml == 2 && memcmp(m, "os", 2) == 0 && nl == 6 && memcmp(n, "system", 6) == 0,
          "global parts");
    brinery_value_free(v);
}

static void wildcard_matches_top_level_names_only(void) {
    /* A wildcard admits the module's own public top-level names, never a dotted path
       (STACK_GLOBAL('uuid', 'os.system') at protocol 4), a dunder chain or a private
       name: the same rule as every binding (brinery_core::Allowlist). */
    static const unsigned char dotted[] =
        "\x80\x04\x8c\x04uuid\x8c\x09os.system\x93\x8c\x02id\x85R.";
    static const unsigned char dunder[] = "cuuid\nUUID.__init__.__globals__\n.";
    static const unsigned char private_[] = "cuuid\n_get_command_stdout\n.";
    static const unsigned char plain[] = "cuuid\nUUID\n.";
    const char *allowed[] = {"uuid.*"};
    brinery_decode_options opts = brinery_decode_options_default();
    opts.restrict_globals = true;
    opts.allowed_globals = allowed;
    opts.allowed_globals_len = 1;
    brinery_error err = {0};
    brinery_value *v = brinery_loads(dotted, sizeof dotted - 1, &opts, &err);
    CHECK(v == NULL && err.code == BRINERY_FORBIDDEN_GLOBAL && err.has_offset &&
              err.offset == 19 && strstr(err.message, "uuid.os.system") != NULL,
          "uuid.* admits uuid.os.system: %s at %zu", err.message, err.offset);
    v = brinery_loads(dunder, sizeof dunder - 1, &opts, &err);
    CHECK(v == NULL && err.code == BRINERY_FORBIDDEN_GLOBAL, "uuid.* admits a dunder chain");
    v = brinery_loads(private_, sizeof private_ - 1, &opts, &err);
    CHECK(v == NULL && err.code == BRINERY_FORBIDDEN_GLOBAL, "uuid.* admits a private name");
    /* The JSON path reads STACK_GLOBAL's names where they lie in the stream: the same
       refusal at the same offset, and the admitted name written from there. */
    char *json = brinery_pickle_to_json(dotted, sizeof dotted - 1, &opts, &err);
    CHECK(json == NULL && err.code == BRINERY_FORBIDDEN_GLOBAL && err.has_offset &&
              err.offset == 19 && strstr(err.message, "uuid.os.system") != NULL,
          "json admits uuid.os.system: %s at %zu", err.message, err.offset);
    static const unsigned char stacked[] = "\x80\x04\x8c\x04uuid\x8c\x04UUID\x93.";
    json = brinery_pickle_to_json(stacked, sizeof stacked - 1, &opts, &err);
    CHECK(json != NULL && strcmp(json, "{\"$global\":[\"uuid\",\"UUID\"]}") == 0,
          "json of uuid.UUID: %s", json ? json : err.message);
    brinery_string_free(json);
    v = brinery_loads(plain, sizeof plain - 1, &opts, &err);
    CHECK(v != NULL, "uuid.* refuses uuid.UUID: %s", err.message);
    brinery_value_free(v);
}

static void accessor_misuse(void) {
    /* pickle.dumps((1, 'a'), protocol=2) */
    static const unsigned char t[] = "\x80\x02K\x01X\x01\x00\x00\x00" "aq\x00\x86q\x01.";
    brinery_error err = {0};
    brinery_value *v = brinery_loads(t, sizeof t - 1, NULL, &err);
    CHECK(v != NULL, "decode: %s", err.message);
    if (v == NULL) {
        return;
    }
    size_t root = brinery_value_root(v), n = 0, x;
    CHECK(brinery_value_kind(v, root) == BRINERY_KIND_TUPLE, "root kind");
    CHECK(brinery_value_items_len(v, root, &n) == BRINERY_OK && n == 2, "len %zu", n);
    CHECK(brinery_value_item(v, root, 2, &x) == BRINERY_INDEX_OUT_OF_RANGE, "item 2");
    CHECK(brinery_value_item(v, root, 0, NULL) == BRINERY_NULL_ARGUMENT, "NULL out");
    int64_t i;
    CHECK(brinery_value_int(v, root, &i) == BRINERY_WRONG_KIND, "int of a tuple");
    CHECK(brinery_value_entries_len(v, root, &n) == BRINERY_WRONG_KIND, "entries of a tuple");
    CHECK(brinery_value_int(v, 1000000, &i) == BRINERY_BAD_NODE, "node out of range");
    CHECK(brinery_value_int(v, BRINERY_NO_NODE, &i) == BRINERY_BAD_NODE, "BRINERY_NO_NODE");
    CHECK(brinery_value_kind(v, 1000000) == BRINERY_KIND_INVALID, "kind out of range");
    size_t a = item(v, root, 0), s = item(v, root, 1);
    CHECK(brinery_value_int(v, a, &i) == BRINERY_OK && i == 1, "item 0");
    const char *p;
    size_t len;
    CHECK(brinery_value_str(v, s, &p, NULL) == BRINERY_NULL_ARGUMENT, "str NULL len");
    CHECK(brinery_value_str(v, s, &p, &len) == BRINERY_OK && len == 1 && p[0] == 'a', "str");
    double d;
    CHECK(brinery_value_float(v, s, &d) == BRINERY_WRONG_KIND, "float of a str");
    brinery_object o;
    CHECK(brinery_value_object(v, s, &o) == BRINERY_WRONG_KIND, "object of a str");
    brinery_value_free(v);
}

static void builder_misuse(void) {
    brinery_encoder *e = brinery_encoder_new(4);
    brinery_error err = {0};
    CHECK(brinery_encoder_end_list(e) == BRINERY_BUILDER_UNBALANCED, "end without begin");
    CHECK(brinery_encoder_begin_list(e) == BRINERY_OK, "begin list");
    CHECK(brinery_encoder_end_dict(e) == BRINERY_BUILDER_UNBALANCED, "end_dict closes a list");
    brinery_bytes b = brinery_encoder_finish(e, &err);
    CHECK(b.data == NULL && err.code == BRINERY_BUILDER_INCOMPLETE, "finish with open list: %s",
          brinery_status_name(err.code));
    CHECK(brinery_encoder_begin_dict(e) == BRINERY_OK, "begin dict");
    CHECK(brinery_encoder_push_str(e, "k", 1) == BRINERY_OK, "key");
    CHECK(brinery_encoder_end_dict(e) == BRINERY_BUILDER_ODD_DICT, "dict with a dangling key");
    CHECK(brinery_encoder_push_int(e, 1) == BRINERY_OK, "value");
    CHECK(brinery_encoder_begin_list(e) == BRINERY_OK, "list key");
    CHECK(brinery_encoder_end_list(e) == BRINERY_OK, "list key end");
    CHECK(brinery_encoder_push_int(e, 2) == BRINERY_OK, "value");
    CHECK(brinery_encoder_end_dict(e) == BRINERY_BUILDER_UNHASHABLE, "list as a key");
    CHECK(brinery_encoder_push_str(e, "\xff", 1) == BRINERY_INVALID_UTF8, "bad utf-8");
    CHECK(brinery_encoder_push_str(e, NULL, 1) == BRINERY_NULL_ARGUMENT, "NULL str");
    CHECK(brinery_encoder_end_list(e) == BRINERY_BUILDER_UNBALANCED, "end_list closes a dict");
    brinery_encoder_free(e); /* freeing with containers open leaks nothing */

    e = brinery_encoder_new(2);
    b = brinery_encoder_finish(e, &err);
    CHECK(b.data == NULL && err.code == BRINERY_BUILDER_INCOMPLETE, "finish with nothing");
    CHECK(brinery_encoder_push_none(e) == BRINERY_OK, "push after failed finish");
    CHECK(brinery_encoder_push_none(e) == BRINERY_BUILDER_SECOND_ROOT, "second root");
    b = brinery_encoder_finish(e, &err);
    CHECK(b.data != NULL && err.code == BRINERY_OK, "finish: %s", err.message);
    brinery_bytes_free(b);
    CHECK(brinery_encoder_push_none(e) == BRINERY_BUILDER_FINISHED, "push after finish");
    b = brinery_encoder_finish(e, &err);
    CHECK(b.data == NULL && err.code == BRINERY_BUILDER_FINISHED, "finish twice");
    brinery_encoder_free(e);

    e = brinery_encoder_new(4);
    int depth = 0;
    while (brinery_encoder_begin_list(e) == BRINERY_OK && depth < 20000) {
        depth++;
    }
    CHECK(depth == 10000, "builder nesting limit at %d", depth);
    CHECK(brinery_encoder_begin_tuple(e) == BRINERY_BUILDER_TOO_DEEP, "too deep");
    brinery_encoder_free(e);
}

int main(void) {
    status_codes_are_unique();
    null_arguments();
    error_struct();
    allowlist();
    wildcard_matches_top_level_names_only();
    accessor_misuse();
    builder_misuse();
    return test_summary();
}
