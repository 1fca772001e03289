/*
 * Decodes every stream CPython wrote for the shared vectors (core/tests/vectors,
 * protocols 0 to 5, listed by manifest.json) through the C API and compares the value
 * with CPython's own ctext; decodes the non-plain cases (objects, extensions,
 * persistent ids, out-of-band buffers) and the Python 2-era streams under each
 * py2_strings setting; and checks brinery_dis against pickletools.dis.
 */
#include "brinery_test.h"

static char *txt_of(const char *file) {
    size_t n;
    char *t = (char *)read_all(vector_path(file), &n);
    if (t != NULL && n > 0 && t[n - 1] == '\n') {
        t[n - 1] = 0;
    }
    return t;
}

/* Decodes `file` with `opts` and compares its ctext with `want` (NULL: expect an error). */
static void check_ctext(const char *file, const brinery_decode_options *opts, const char *want) {
    size_t len;
    unsigned char *data = read_all(vector_path(file), &len);
    CHECK(data != NULL, "%s: cannot read", file);
    if (data == NULL) {
        return;
    }
    brinery_error err = {0};
    brinery_value *v = brinery_loads(data, len, opts, &err);
    if (want == NULL) {
        CHECK(v == NULL && err.code != BRINERY_OK, "%s: decoded, expected an error", file);
    } else {
        CHECK(v != NULL, "%s: %s at byte %zu: %s", file, brinery_status_name(err.code), err.offset,
              err.message);
    }
    if (v != NULL && want != NULL) {
        sbuf got = {0};
        ctext(&got, v);
        CHECK(strcmp(got.p, want) == 0, "%s:\n  got  %.300s\n  want %.300s", file, got.p, want);
        sb_free(&got);
    }
    brinery_value_free(v);
    free(data);
}

static void check_dis(const char *pickle_file, const char *dis_file) {
    size_t len, want_len;
    unsigned char *data = read_all(vector_path(pickle_file), &len);
    char *want = (char *)read_all(vector_path(dis_file), &want_len);
    brinery_error err = {0};
    char *got = brinery_dis(data, len, &err);
    CHECK(got != NULL, "dis %s: %s: %s", pickle_file, brinery_status_name(err.code), err.message);
    if (got != NULL && want != NULL) {
        CHECK(strcmp(got, want) == 0, "dis %s differs from %s", pickle_file, dis_file);
    }
    brinery_string_free(got);
    free(want);
    free(data);
}

static void cases(const brinery_value *m, size_t list) {
    char file[512];
    for (size_t i = 0; i < items_len(m, list); i++) {
        size_t c = item(m, list, i);
        char *name = str_dup(m, dict_get(m, c, "name"));
        bool plain = false;
        brinery_value_bool(m, dict_get(m, c, "plain"), &plain);
        size_t protocols = dict_get(m, c, "protocols");
        char *want = NULL;
        if (plain) {
            snprintf(file, sizeof file, "%s.txt", name);
            want = txt_of(file);
            CHECK(want != NULL, "%s: no ctext", file);
        }
        for (size_t j = 0; j < items_len(m, protocols); j++) {
            int64_t p = int_of(m, item(m, protocols, j));
            brinery_decode_options opts = brinery_decode_options_default();
            size_t bufs = dict_get(m, c, "buffers");
            if (bufs != BRINERY_NO_NODE) {
                char key[8];
                snprintf(key, sizeof key, "%lld", (long long)p);
                opts.buffers = items_len(m, dict_get(m, bufs, key));
            }
            snprintf(file, sizeof file, "%s.p%lld.pickle", name, (long long)p);
            if (plain && want != NULL) {
                check_ctext(file, &opts, want);
            } else {
                brinery_error err = {0};
                size_t len;
                unsigned char *data = read_all(vector_path(file), &len);
                brinery_value *v = brinery_loads(data, len, &opts, &err);
                CHECK(v != NULL, "%s: %s: %s", file, brinery_status_name(err.code), err.message);
                CHECK(v == NULL || brinery_value_kind(v, brinery_value_root(v)) !=
                                       BRINERY_KIND_INVALID,
                      "%s: root is not a node", file);
                brinery_value_free(v);
                free(data);
            }
            char dis[512];
            snprintf(dis, sizeof dis, "%s.p%lld.dis", name, (long long)p);
            check_dis(file, dis);
        }
        free(want);
        free(name);
    }
}

static void py2(const brinery_value *m, size_t list) {
    static const char *encodings[] = {"ascii", "latin1", "bytes"};
    for (size_t i = 0; i < items_len(m, list); i++) {
        size_t c = item(m, list, i);
        char *pickle = str_dup(m, dict_get(m, c, "pickle"));
        size_t results = dict_get(m, c, "results");
        for (uint32_t e = 0; e < 3; e++) {
            size_t r = dict_get(m, results, encodings[e]);
            if (r == BRINERY_NO_NODE) {
                continue;
            }
            brinery_decode_options opts = brinery_decode_options_default();
            opts.py2_strings = e; /* BRINERY_PY2_ASCII, _LATIN1, _BYTES in this order */
            size_t txt = dict_get(m, r, "txt");
            if (txt != BRINERY_NO_NODE) {
                char *file = str_dup(m, txt);
                char *want = txt_of(file);
                check_ctext(pickle, &opts, want);
                free(want);
                free(file);
            } else if (dict_get(m, r, "error") != BRINERY_NO_NODE) {
                check_ctext(pickle, &opts, NULL);
            } else {
                brinery_error err = {0};
                size_t len;
                unsigned char *data = read_all(vector_path(pickle), &len);
                brinery_value *v = brinery_loads(data, len, &opts, &err);
                CHECK(v != NULL, "%s (%s): %s: %s", pickle, encodings[e],
                      brinery_status_name(err.code), err.message);
                brinery_value_free(v);
                free(data);
            }
        }
        size_t dis = dict_get(m, c, "dis");
        if (dis != BRINERY_NO_NODE) {
            char *file = str_dup(m, dis);
            check_dis(pickle, file);
            free(file);
        }
        free(pickle);
    }
}

int main(void) {
    brinery_value *m = load_json_file(vector_path("manifest.json"));
    CHECK(m != NULL, "cannot read manifest.json");
    if (m == NULL) {
        return test_summary();
    }
    size_t root = brinery_value_root(m);
    size_t case_list = dict_get(m, root, "cases");
    size_t py2_list = dict_get(m, root, "py2");
    CHECK(items_len(m, case_list) > 100, "manifest lists %zu cases", items_len(m, case_list));
    cases(m, case_list);
    py2(m, py2_list);
    brinery_value_free(m);
    return test_summary();
}
