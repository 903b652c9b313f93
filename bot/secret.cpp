#include "bot/secret.hpp"

#include <array>

namespace rollbot::core {
namespace {

bool token_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

bool query_char(char c) {
    return c != '&' && c != '"' && c != '\'' && c != ' ' && c != '\n';
}

}  // namespace

std::string redact(std::string_view text) {
    // Slack tokens (xapp-, xoxb-, xoxp-, xoxe-) and the socket-mode ticket in a wss:// URL.
    static constexpr std::array<std::string_view, 5> kPrefixes{
        "xapp-", "xoxb-", "xoxp-", "xoxe-", "ticket="};
    std::string out;
    out.reserve(text.size());
    std::size_t i = 0;
    while (i < text.size()) {
        bool masked = false;
        for (auto prefix : kPrefixes) {
            if (text.substr(i, prefix.size()) != prefix) {
                continue;
            }
            out.append(prefix);
            out.append("***");
            i += prefix.size();
            const bool ticket = prefix == "ticket=";
            while (i < text.size() && (ticket ? query_char(text[i]) : token_char(text[i]))) {
                ++i;
            }
            masked = true;
            break;
        }
        if (!masked) {
            out.push_back(text[i]);
            ++i;
        }
    }
    return out;
}

}  // namespace rollbot::core
