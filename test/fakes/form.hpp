#pragma once

// application/x-www-form-urlencoded for the fakes (Slack's Web API, Prometheus' query API): one
// decoder shared by test/fakes and test/support. Header-only, so fake binaries need no library.
#include <optional>
#include <string>
#include <string_view>

namespace rollbot::fakes {

inline int hex_digit(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/// "a+b%21" -> "a b!"; a '%' not followed by two hex digits stays as it is.
inline std::string form_decode(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '+') {
            out.push_back(' ');
        } else if (text[i] == '%' && i + 2 < text.size() && hex_digit(text[i + 1]) >= 0 &&
                   hex_digit(text[i + 2]) >= 0) {
            out.push_back(static_cast<char>(hex_digit(text[i + 1]) * 16 + hex_digit(text[i + 2])));
            i += 2;
        } else {
            out.push_back(text[i]);
        }
    }
    return out;
}

/// The decoded value of the first `key` in `form` ("" for a bare `key`); nullopt if absent.
inline std::optional<std::string> form_value(std::string_view form, std::string_view key) {
    while (!form.empty()) {
        const auto amp = form.find('&');
        const std::string_view pair = form.substr(0, amp);
        form = amp == std::string_view::npos ? std::string_view() : form.substr(amp + 1);
        const auto eq = pair.find('=');
        if (!pair.empty() && form_decode(pair.substr(0, eq)) == key) {
            return eq == std::string_view::npos ? std::string() : form_decode(pair.substr(eq + 1));
        }
    }
    return std::nullopt;
}

}  // namespace rollbot::fakes
