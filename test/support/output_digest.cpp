#include "test/support/output_digest.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <array>

namespace rollbot::test {

std::string sha256_raw(std::string_view data) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
    unsigned int len = 0;
    EXPECT_EQ(EVP_Digest(data.data(), data.size(), md.data(), &len, EVP_sha256(), nullptr), 1);
    return {reinterpret_cast<const char*>(md.data()), len};
}

std::string expected_digest(std::string_view out, std::string_view err) {
    constexpr std::string_view kDigits = "0123456789abcdef";
    std::string hex;
    for (const char ch : sha256_raw(sha256_raw(out) + sha256_raw(err))) {
        const auto c = static_cast<unsigned char>(ch);
        hex += kDigits[c >> 4U];
        hex += kDigits[c & 0xFU];
    }
    return hex;
}

}  // namespace rollbot::test
