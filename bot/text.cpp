#include "bot/text.hpp"

#include <algorithm>
#include <cstdio>
#include <string>

namespace rollbot::core {
namespace {

char lower(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

}  // namespace

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
    for (std::size_t i = 0; i <= a.size(); ++i) {
        d[i][0] = i;
    }
    for (std::size_t j = 0; j <= b.size(); ++j) {
        d[0][j] = j;
    }
    for (std::size_t i = 1; i <= a.size(); ++i) {
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t cost = lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1;
            d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
            if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) &&
                lower(a[i - 2]) == lower(b[j - 1])) {
                d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
            }
        }
    }
    return d[a.size()][b.size()];
}

std::optional<std::string_view> closest_word(std::string_view word,
                                             const std::vector<std::string_view>& candidates) {
    const std::size_t allowed = word.size() <= 4 ? 1 : word.size() <= 8 ? 2 : 3;
    std::optional<std::string_view> best;
    std::size_t best_distance = allowed + 1;
    for (std::string_view candidate : candidates) {
        const std::size_t d = edit_distance(word, candidate);
        if (d < best_distance) {
            best = candidate;
            best_distance = d;
        }
    }
    return best;
}

std::string log_quote(std::string_view text) {
    std::string out = "\"";
    for (char c : text) {
        if (c == '"' || c == '\\') {
            out += '\\';
        }
        out += c;
    }
    return out + "\"";
}

std::string defuse_code_fences(std::string text) {
    for (auto pos = text.find("```"); pos != std::string::npos; pos = text.find("```", pos)) {
        text.replace(pos, 3, "'''");
    }
    return text;
}

std::optional<std::chrono::system_clock::time_point> parse_utc(std::string_view text) {
    int y = 0;
    unsigned mo = 0;
    unsigned d = 0;
    int h = 0;
    int mi = 0;
    int s = 0;
    if (text.size() < 20 ||
        std::sscanf(
            std::string(text).c_str(), "%4d-%2u-%2uT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &s) != 6) {
        return std::nullopt;
    }
    const std::chrono::year_month_day date{
        std::chrono::year{y}, std::chrono::month{mo}, std::chrono::day{d}};
    if (!date.ok()) {
        return std::nullopt;
    }
    return std::chrono::sys_days{date} + std::chrono::hours{h} + std::chrono::minutes{mi} +
           std::chrono::seconds{s};
}

std::string format_age(std::chrono::system_clock::time_point at,
                       std::chrono::system_clock::time_point now) {
    constexpr long long kMinutesPerHour = 60;
    constexpr long long kMinutesPerDay = 24 * kMinutesPerHour;
    const long long minutes =
        std::max<long long>(std::chrono::duration_cast<std::chrono::minutes>(now - at).count(), 0);
    if (minutes < 2 * kMinutesPerHour) {
        return std::to_string(minutes) + " min ago";
    }
    if (minutes < 2 * kMinutesPerDay) {
        return std::to_string(minutes / kMinutesPerHour) + " h ago";
    }
    return std::to_string(minutes / kMinutesPerDay) + " days ago";
}

}  // namespace rollbot::core
