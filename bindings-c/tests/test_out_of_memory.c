/*
 * Memory the allocator refuses fails the call with an error code; the program goes on.
 * The test's own allocator settings (AddressSanitizer's, which every C test runs under:
 * allocations above 64 MiB return NULL instead of aborting) make the library's growth
 * of a decode stack, a tree, an output stream or a JSON text fail while the test's own
 * buffers fit.
 * Without fallible growth the Rust library would abort the whole process here.
 */
#include "brinery_test.h"

const char *__asan_default_options(void);
const char *__asan_default_options(void) {
    return "allocator_may_return_null=1:max_allocation_size_mb=64";
}

/* PROTO 4, MARK, n x BININT1, LIST, STOP: a list whose decode stack (8 bytes an item)
 * and tree outgrow 64 MiB while the stream stays at 2 bytes an item. */
static uint8_t *list_stream(size_t n, size_t *len) {
    uint8_t *s = malloc(n * 2 + 5);
    if (s == NULL) {
        return NULL;
    }
    size_t k = 0;
    s[k++] = 0x80;
    s[k++] = 4;
    s[k++] = '(';
    for (size_t i = 0; i < n; i++) {
        s[k++] = 'K';
        s[k++] = (uint8_t)i;
    }
    s[k++] = 'l';
    s[k++] = '.';
    *len = k;
    return s;
}

static void decode_refused(void) {
    size_t len = 0;
    uint8_t *s = list_stream((size_t)16 << 20, &len);
    CHECK(s != NULL, "the test's own 32 MiB stream");
    if (s == NULL) {
        return;
    }
    brinery_error err = {0};
    brinery_value *v = brinery_loads(s, len, NULL, &err);
    CHECK(v == NULL && err.code == BRINERY_DECODE_OUT_OF_MEMORY, "loads: %s (%s)",
          brinery_status_name(err.code), err.message);
    CHECK(err.has_offset && err.offset > 3 && err.offset < len, "offset %zu of %zu", err.offset, len);
    brinery_value_free(v);
    /* The same call on a stream that fits works at once. */
    size_t small_len = 0;
    uint8_t *small = list_stream(1000, &small_len);
    v = brinery_loads(small, small_len, NULL, &err);
    CHECK(v != NULL && err.code == BRINERY_OK, "loads after: %s", brinery_status_name(err.code));
    brinery_value_free(v);
    free(small);
    free(s);
}

static void encode_refused(void) {
    size_t n = (size_t)40 << 20;
    uint8_t *payload = malloc(n);
    CHECK(payload != NULL, "the test's own 40 MiB payload");
    if (payload == NULL) {
        return;
    }
    memset(payload, 7, n);
    brinery_encoder *enc = brinery_encoder_new(5);
    CHECK(brinery_encoder_begin_list(enc) == BRINERY_OK, "begin");
    /* Two 40 MiB items: each copy fits, the 80 MiB stream does not. */
    CHECK(brinery_encoder_push_bytes(enc, payload, n) == BRINERY_OK, "push 1");
    CHECK(brinery_encoder_push_bytes(enc, payload, n) == BRINERY_OK, "push 2");
    CHECK(brinery_encoder_end_list(enc) == BRINERY_OK, "end");
    brinery_error err = {0};
    brinery_bytes out = brinery_encoder_finish(enc, &err);
    CHECK(out.data == NULL && err.code == BRINERY_ENCODE_OUT_OF_MEMORY, "finish: %s (%s)",
          brinery_status_name(err.code), err.message);
    brinery_bytes_free(out);
    brinery_encoder_free(enc);

    /* A stream that fits, right after. */
    enc = brinery_encoder_new(5);
    CHECK(brinery_encoder_push_bytes(enc, payload, 1000) == BRINERY_OK, "push small");
    out = brinery_encoder_finish(enc, &err);
    CHECK(out.data != NULL && err.code == BRINERY_OK && out.len > 1000, "finish small: %s",
          brinery_status_name(err.code));
    brinery_bytes_free(out);
    brinery_encoder_free(enc);
    free(payload);
}

/* PROTO 4, EMPTY_LIST, two BINBYTES8 of `n` bytes each APPENDed, STOP. */
static uint8_t *two_bytes_stream(size_t n, size_t *len) {
    uint8_t *s = malloc(2 * (n + 10) + 4);
    if (s == NULL) {
        return NULL;
    }
    size_t k = 0;
    s[k++] = 0x80;
    s[k++] = 4;
    s[k++] = ']';
    for (int item = 0; item < 2; item++) {
        s[k++] = 0x8e;
        for (int b = 0; b < 8; b++) {
            s[k++] = (uint8_t)((uint64_t)n >> (8 * b));
        }
        memset(s + k, 'x', n);
        k += n;
        s[k++] = 'a';
    }
    s[k++] = '.';
    *len = k;
    return s;
}

static void json_refused(void) {
    /* 2 x 30 MiB of bytes: 80 MiB of base64 text, which the allocator refuses. */
    size_t len = 0;
    uint8_t *s = two_bytes_stream((size_t)30 << 20, &len);
    CHECK(s != NULL, "the test's own 60 MiB stream");
    if (s == NULL) {
        return;
    }
    brinery_error err = {0};
    char *json = brinery_pickle_to_json(s, len, NULL, &err);
    CHECK(json == NULL && err.code == BRINERY_DECODE_OUT_OF_MEMORY, "pickle_to_json: %s (%s)",
          brinery_status_name(err.code), err.message);
    brinery_string_free(json);
    /* One item of 1 KiB converts right after. */
    size_t small_len = 0;
    uint8_t *small = two_bytes_stream(1024, &small_len);
    json = brinery_pickle_to_json(small, small_len, NULL, &err);
    CHECK(json != NULL && err.code == BRINERY_OK && strlen(json) > 2 * 1364, "small: %s",
          brinery_status_name(err.code));
    brinery_string_free(json);
    free(small);
    free(s);
}

int main(void) {
    decode_refused();
    encode_refused();
    json_refused();
    return test_summary();
}
