#pragma once

#include "bot/result.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

// The words of a /rollback line, before the grammar (bot/command_parser.cpp) reads them.
namespace rollbot::core::words {

/// One blank-separated word and where it stood in the line.
struct Token {
    std::string text;
    std::size_t start = 0;  // offsets of the token in the original text
    std::size_t end = 0;
};

/// Splits on ASCII blanks; a word starting with an em dash ("—dry-run") becomes "--dry-run".
[[nodiscard]] std::vector<Token> tokenize(std::string_view text);
/// A user's word quoted for an error message, cut (whole UTF-8 characters) past 40 bytes.
[[nodiscard]] std::string echo(std::string_view token);
/// ASCII lower case.
[[nodiscard]] std::string lower(std::string_view s);
/// An error naming the first non-ASCII character (a look-alike, a pasted quote), if any.
[[nodiscard]] std::optional<Error> reject_non_ascii(std::string_view token);
/// Hex digits only, at least one.
[[nodiscard]] bool is_hex(std::string_view s);
/// Without leading and trailing blanks.
[[nodiscard]] std::string trim(std::string_view s);

}  // namespace rollbot::core::words
