/*
 * The inert nodes through the accessors, on streams CPython wrote: calls (reduce,
 * newobj, newobj_ex with kwargs, build state, appended items, set entries), globals,
 * persistent ids, extension codes, out-of-band buffers, shared and cyclic references
 * reached by id, and the options that change them (keep_reductions, fix_imports).
 */
#include "brinery_test.h"

static brinery_value *load(const char *file, const brinery_decode_options *opts) {
    size_t len;
    unsigned char *data = read_all(vector_path(file), &len);
    brinery_error err = {0};
    brinery_value *v = data ? brinery_loads(data, len, opts, &err) : NULL;
    CHECK(v != NULL, "%s: %s", file, data ? err.message : "missing");
    free(data);
    return v;
}

static int global_is(const brinery_value *v, size_t node, const char *module, const char *name) {
    const char *m, *n;
    size_t ml, nl;
    return brinery_value_global(v, node, &m, &ml, &n, &nl) == BRINERY_OK && ml == strlen(module) &&
           memcmp(m, module, ml) == 0 && nl == strlen(name) && memcmp(n, name, nl) == 0;
}

static void calls(void) {
    brinery_value *v = load("datetime.p2.pickle", NULL);
    if (v != NULL) {
        size_t root = brinery_value_root(v);
        brinery_object o;
        CHECK(brinery_value_object(v, root, &o) == BRINERY_OK, "datetime: object");
        CHECK(o.kind == BRINERY_OBJECT_REDUCE, "datetime: kind %d", (int)o.kind);
        CHECK(global_is(v, o.callable, "datetime", "datetime"), "datetime: callable");
        CHECK(o.kwargs == BRINERY_NO_NODE && o.state_len == 0, "datetime: no kwargs, no state");
        CHECK(brinery_value_kind(v, o.args) == BRINERY_KIND_TUPLE && items_len(v, o.args) == 1,
              "datetime: args");
        const uint8_t *b;
        size_t n;
        CHECK(brinery_value_bytes(v, item(v, o.args, 0), &b, &n) == BRINERY_OK && n == 10,
              "datetime: 10 bytes of state");
        size_t s;
        CHECK(brinery_value_object_state(v, root, 0, &s) == BRINERY_INDEX_OUT_OF_RANGE,
              "datetime: state 0");
        brinery_value_free(v);
    }
    v = load("newobj_ex.p4.pickle", NULL);
    if (v != NULL) {
        size_t root = brinery_value_root(v), state;
        brinery_object o;
        brinery_value_object(v, root, &o);
        CHECK(o.kind == BRINERY_OBJECT_NEWOBJ_EX, "newobj_ex: kind %d", (int)o.kind);
        CHECK(global_is(v, o.callable, "brinery_vectors", "KwOnly"), "newobj_ex: class");
        CHECK(o.kwargs != BRINERY_NO_NODE && str_is(v, dict_get(v, o.kwargs, "b"), "two"),
              "newobj_ex: kwargs");
        CHECK(int_of(v, item(v, o.args, 0)) == 1, "newobj_ex: args");
        CHECK(o.state_len == 1 && brinery_value_object_state(v, root, 0, &state) == BRINERY_OK &&
                  int_of(v, dict_get(v, state, "a")) == 1,
              "newobj_ex: state");
        brinery_value_free(v);
    }
    v = load("getstate.p0.pickle", NULL);
    if (v != NULL) {
        size_t root = brinery_value_root(v), state;
        brinery_object o;
        brinery_value_object(v, root, &o);
        CHECK(o.kind == BRINERY_OBJECT_REDUCE &&
                  global_is(v, o.callable, "copyreg", "_reconstructor"),
              "getstate p0: copyreg._reconstructor");
        brinery_value_object_state(v, root, 0, &state);
        CHECK(str_is(v, dict_get(v, state, "name"), "widget"), "getstate p0: state");
        brinery_value_free(v);
    }
    v = load("ordereddict.p4.pickle", NULL);
    if (v != NULL) {
        size_t root = brinery_value_root(v), k, x;
        brinery_object o;
        brinery_value_object(v, root, &o);
        CHECK(o.entries_len == 2, "ordereddict: %zu entries", o.entries_len);
        CHECK(brinery_value_entry(v, root, 0, &k, &x) == BRINERY_OK && str_is(v, k, "b") &&
                  int_of(v, x) == 1,
              "ordereddict: entry 0");
        CHECK(brinery_value_entry(v, root, 2, &k, &x) == BRINERY_INDEX_OUT_OF_RANGE,
              "ordereddict: entry 2");
        brinery_value_free(v);
    }
    /* A list subclass with appended items: pickle of L([1, 2]) at protocol 2. */
    static const unsigned char sub[] = "\x80\x02" "c__main__\nL\nq\x00)\x81q\x01(K\x01K\x02" "e.";
    brinery_error err = {0};
    v = brinery_loads(sub, sizeof sub - 1, NULL, &err);
    CHECK(v != NULL, "list subclass: %s", err.message);
    if (v != NULL) {
        size_t root = brinery_value_root(v);
        brinery_object o;
        brinery_value_object(v, root, &o);
        CHECK(o.kind == BRINERY_OBJECT_NEWOBJ && o.items_len == 2 &&
                  int_of(v, item(v, root, 1)) == 2,
              "list subclass: items");
        brinery_value_free(v);
    }
}

static void references(void) {
    brinery_value *v = load("persid_tuple.p2.pickle", NULL);
    if (v != NULL) {
        size_t root = brinery_value_root(v), pid;
        size_t p = item(v, root, 1);
        CHECK(brinery_value_kind(v, p) == BRINERY_KIND_PERSISTENT_ID, "persid kind");
        CHECK(brinery_value_persistent_id(v, p, &pid) == BRINERY_OK &&
                  str_is(v, item(v, pid, 0), "doc") && int_of(v, item(v, pid, 1)) == 7,
              "persid payload ('doc', 7)");
        brinery_value_free(v);
    }
    v = load("persid_str.p0.pickle", NULL);
    if (v != NULL) {
        size_t pid;
        CHECK(brinery_value_persistent_id(v, item(v, brinery_value_root(v), 1), &pid) ==
                      BRINERY_OK &&
                  str_is(v, pid, "doc:7"),
              "PERSID text payload");
        brinery_value_free(v);
    }
    v = load("extension.p2.pickle", NULL);
    if (v != NULL) {
        brinery_object o;
        int32_t code = 0;
        brinery_value_object(v, item(v, brinery_value_root(v), 0), &o);
        CHECK(brinery_value_extension(v, o.callable, &code) == BRINERY_OK && code == 0x42,
              "extension code %d", code);
        brinery_value_free(v);
    }
    brinery_decode_options opts = brinery_decode_options_default();
    opts.buffers = 2;
    v = load("oob_buffers.p5.pickle", &opts);
    if (v != NULL) {
        size_t root = brinery_value_root(v), index = 9;
        bool ro = true;
        CHECK(brinery_value_buffer(v, item(v, root, 0), &index, &ro) == BRINERY_OK && index == 0 &&
                  !ro,
              "buffer 0 writable");
        CHECK(brinery_value_buffer(v, item(v, root, 1), &index, &ro) == BRINERY_OK && index == 1 &&
                  ro,
              "buffer 1 read-only");
        brinery_value_free(v);
    }
    opts.buffers = 1;
    size_t len;
    unsigned char *data = read_all(vector_path("oob_buffers.p5.pickle"), &len);
    brinery_error err = {0};
    v = brinery_loads(data, len, &opts, &err);
    CHECK(v == NULL && err.code == BRINERY_DECODE_MISSING_BUFFER, "one buffer short: %s",
          brinery_status_name(err.code));
    free(data);
}

static void identity(void) {
    brinery_value *v = load("cycle_list.p2.pickle", NULL);
    if (v != NULL) {
        size_t root = brinery_value_root(v);
        CHECK(item(v, root, 0) == root, "a list containing itself is its own item");
        brinery_value_free(v);
    }
    v = load("shared_list.p4.pickle", NULL);
    if (v != NULL) {
        size_t root = brinery_value_root(v);
        CHECK(item(v, root, 0) == item(v, root, 1), "shared list is one node");
        brinery_value_free(v);
    }
}

static void options(void) {
    brinery_decode_options opts = brinery_decode_options_default();
    brinery_value *v = load("bytes_short.p2.pickle", &opts);
    if (v != NULL) {
        CHECK(brinery_value_kind(v, brinery_value_root(v)) == BRINERY_KIND_BYTES,
              "bytes below protocol 3 become bytes");
        brinery_value_free(v);
    }
    opts.keep_reductions = true;
    v = load("bytes_short.p2.pickle", &opts);
    if (v != NULL) {
        brinery_object o;
        CHECK(brinery_value_object(v, brinery_value_root(v), &o) == BRINERY_OK &&
                  global_is(v, o.callable, "_codecs", "encode"),
              "keep_reductions keeps _codecs.encode");
        brinery_value_free(v);
    }
    opts = brinery_decode_options_default();
    v = load("py2_xrange.pickle", &opts);
    if (v != NULL) {
        brinery_object o;
        brinery_value_object(v, brinery_value_root(v), &o);
        CHECK(global_is(v, o.callable, "builtins", "range"), "fix_imports maps xrange");
        brinery_value_free(v);
    }
    opts.fix_imports = false;
    v = load("py2_xrange.pickle", &opts);
    if (v != NULL) {
        brinery_object o;
        brinery_value_object(v, brinery_value_root(v), &o);
        CHECK(global_is(v, o.callable, "__builtin__", "xrange"), "fix_imports off");
        brinery_value_free(v);
    }
}

int main(void) {
    calls();
    references();
    identity();
    options();
    return test_summary();
}
