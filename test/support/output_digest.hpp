#pragma once

#include <string>
#include <string_view>

namespace rollbot::test {

/// SHA-256 of `data`, raw bytes, with one-shot EVP_Digest: independent of the streaming digest
/// the process capture computes.
[[nodiscard]] std::string sha256_raw(std::string_view data);

/// A child's output digest as actions/process.hpp defines it, hex:
/// SHA-256(SHA-256(stdout) || SHA-256(stderr)).
[[nodiscard]] std::string expected_digest(std::string_view out, std::string_view err);

}  // namespace rollbot::test
