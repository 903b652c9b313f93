// The words of a /rollback line: tokens, the em dash some keyboards make of "--", look-alike
// characters, and how a user's word is quoted back in an error.
#include "bot/command_words.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

namespace rollbot::core::words {
namespace {

constexpr std::size_t kMaxEcho = 40;
constexpr std::string_view kEmDash = "\xE2\x80\x94";  // U+2014, what some keyboards make of "--"

// Decodes the first non-ASCII code point of `s`, for "U+0430" in look-alike errors.
std::optional<std::pair<std::size_t, unsigned>> first_non_ascii(std::string_view s) {
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80U) {
            continue;
        }
        unsigned cp = 0;
        std::size_t len = 1;
        if ((c & 0xE0U) == 0xC0U) {
            cp = c & 0x1FU;
            len = 2;
        } else if ((c & 0xF0U) == 0xE0U) {
            cp = c & 0x0FU;
            len = 3;
        } else if ((c & 0xF8U) == 0xF0U) {
            cp = c & 0x07U;
            len = 4;
        }
        for (std::size_t k = 1; k < len && i + k < s.size(); ++k) {
            cp = (cp << 6U) | (static_cast<unsigned char>(s[i + k]) & 0x3FU);
        }
        return std::pair{i, cp};
    }
    return std::nullopt;
}

}  // namespace

std::string echo(std::string_view token) {
    if (token.size() <= kMaxEcho) {
        return fmt::format("'{}'", token);
    }
    std::size_t cut = kMaxEcho;
    while (cut > 0 && (static_cast<unsigned char>(token[cut]) & 0xC0U) == 0x80U) {
        --cut;  // do not split a UTF-8 sequence
    }
    return fmt::format("'{}…' ({} characters)", token.substr(0, cut), token.size());
}

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) {
        return static_cast<char>(std::tolower(c));
    });
    return out;
}

std::optional<Error> reject_non_ascii(std::string_view token) {
    auto found = first_non_ascii(token);
    if (!found) {
        return std::nullopt;
    }
    return Error{
        ErrorKind::Invalid,
        fmt::format(
            "{} contains U+{:04X}, which is not a plain ASCII character (a look-alike or a pasted "
            "character?): type the command again by hand",
            echo(token),
            found->second)};
}

bool is_hex(std::string_view s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isxdigit(c) != 0; });
}

std::vector<Token> tokenize(std::string_view text) {
    std::vector<Token> tokens;
    std::size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) {
            ++i;
        }
        const std::size_t start = i;
        while (i < text.size() && text[i] != ' ' && text[i] != '\t') {
            ++i;
        }
        if (i > start) {
            std::string word(text.substr(start, i - start));
            if (word.starts_with(kEmDash) && word.size() > kEmDash.size()) {
                word = "--" + word.substr(kEmDash.size());
            }
            tokens.push_back(Token{std::move(word), start, i});
        }
    }
    return tokens;
}

std::string trim(std::string_view s) {
    const auto b = s.find_first_not_of(" \t");
    if (b == std::string_view::npos) {
        return {};
    }
    const auto e = s.find_last_not_of(" \t");
    return std::string(s.substr(b, e - b + 1));
}

}  // namespace rollbot::core::words
