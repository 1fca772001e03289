// libbrinery from C++: the header compiles as C++11 under -pedantic -Werror (its
// declarations sit in `extern "C"`, so they link against the C symbols), and a C++
// program writes a pickle with the encoder and reads it back with the decoder, managing
// the library's objects with RAII.

#include "brinery.h"

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

namespace {

int passed = 0;
int failed = 0;

void check(bool ok, const char *what) {
    if (ok) {
        ++passed;
    } else {
        ++failed;
        std::printf("FAIL: %s\n", what);
    }
}

struct EncoderFree {
    void operator()(brinery_encoder *e) const { brinery_encoder_free(e); }
};
struct ValueFree {
    void operator()(brinery_value *v) const { brinery_value_free(v); }
};
using Encoder = std::unique_ptr<brinery_encoder, EncoderFree>;
using Value = std::unique_ptr<brinery_value, ValueFree>;

std::string str_at(const brinery_value *v, size_t node) {
    const char *utf8 = nullptr;
    size_t len = 0;
    if (brinery_value_str(v, node, &utf8, &len) != BRINERY_OK) {
        return "<not a str>";
    }
    return std::string(utf8, len);
}

void round_trip() {
    Encoder enc(brinery_encoder_new(4));
    check(enc != nullptr, "encoder_new(4)");
    const std::string word = "caf\xc3\xa9";
    check(brinery_encoder_begin_list(enc.get()) == BRINERY_OK, "begin_list");
    check(brinery_encoder_push_int(enc.get(), -7) == BRINERY_OK, "push_int");
    check(brinery_encoder_push_str(enc.get(), word.data(), word.size()) == BRINERY_OK,
          "push_str");
    check(brinery_encoder_push_none(enc.get()) == BRINERY_OK, "push_none");
    check(brinery_encoder_end_list(enc.get()) == BRINERY_OK, "end_list");
    brinery_error err;
    std::memset(&err, 0, sizeof err);
    brinery_bytes bytes = brinery_encoder_finish(enc.get(), &err);
    check(bytes.data != nullptr, "finish");
    if (bytes.data == nullptr) {
        return;
    }

    Value value(brinery_loads(bytes.data, bytes.len, nullptr, &err));
    brinery_bytes_free(bytes);
    check(value != nullptr, "loads");
    if (!value) {
        return;
    }
    size_t root = brinery_value_root(value.get());
    check(brinery_value_kind(value.get(), root) == BRINERY_KIND_LIST, "root is a list");
    size_t len = 0;
    check(brinery_value_items_len(value.get(), root, &len) == BRINERY_OK && len == 3,
          "three items");
    size_t item = 0;
    int64_t n = 0;
    check(brinery_value_item(value.get(), root, 0, &item) == BRINERY_OK &&
              brinery_value_int(value.get(), item, &n) == BRINERY_OK && n == -7,
          "item 0 is -7");
    check(brinery_value_item(value.get(), root, 1, &item) == BRINERY_OK &&
              str_at(value.get(), item) == word,
          "item 1 is the str");
    check(brinery_value_item(value.get(), root, 2, &item) == BRINERY_OK &&
              brinery_value_kind(value.get(), item) == BRINERY_KIND_NONE,
          "item 2 is None");
}

void errors() {
    const uint8_t truncated[] = {0x80, 0x04, 0x95};
    brinery_error err;
    std::memset(&err, 0, sizeof err);
    Value value(brinery_loads(truncated, sizeof truncated, nullptr, &err));
    check(value == nullptr, "truncated stream fails");
    check(err.code == BRINERY_DECODE_TRUNCATED, "with BRINERY_DECODE_TRUNCATED");
    check(std::string(brinery_status_name(err.code)) == "BRINERY_DECODE_TRUNCATED",
          "status_name");
    check(err.has_offset, "and an offset");
}

}  // namespace

int main() {
    round_trip();
    errors();
    std::printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
