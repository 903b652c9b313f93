#include "config/checks.hpp"
#include "config/loader.hpp"
#include "config/schema.hpp"

#include <array>
#include <charconv>
#include <cstdint>
#include <limits>
#include <string>

namespace rollbot::config {
namespace {

struct Unit {
    std::string_view name;
    std::int64_t millis;
};

// Largest first: a duration names each unit at most once, in this order, so `15m15m` or
// `30m1h` (most likely typos) are rejected rather than summed.
constexpr std::array<Unit, 4> kUnits{{{"h", 3'600'000}, {"m", 60'000}, {"s", 1'000}, {"ms", 1}}};

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}
bool is_lower(char c) {
    return c >= 'a' && c <= 'z';
}

std::size_t unit_index(std::string_view name) {
    for (std::size_t i = 0; i < kUnits.size(); ++i) {
        if (kUnits[i].name == name) {
            return i;
        }
    }
    return kUnits.size();
}

}  // namespace

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
    if (text == "0") {
        return std::chrono::milliseconds{0};
    }
    if (text.empty()) {
        return std::nullopt;
    }
    constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
    std::int64_t total = 0;
    std::size_t next_unit = 0;  // units must come largest first, each once
    std::size_t i = 0;
    while (i < text.size()) {
        const std::size_t digits = i;
        while (i < text.size() && is_digit(text[i])) {
            ++i;
        }
        std::int64_t count = 0;
        auto [end, ec] = std::from_chars(text.data() + digits, text.data() + i, count);
        if (i == digits || ec != std::errc{} || end != text.data() + i) {
            return std::nullopt;
        }
        const std::size_t letters = i;
        while (i < text.size() && is_lower(text[i])) {
            ++i;
        }
        const std::size_t u = unit_index(text.substr(letters, i - letters));
        if (u == kUnits.size() || u < next_unit) {
            return std::nullopt;
        }
        next_unit = u + 1;
        if (count > (kMax - total) / kUnits[u].millis) {
            return std::nullopt;
        }
        total += count * kUnits[u].millis;
    }
    return std::chrono::milliseconds{total};
}

namespace detail {
namespace {

// Spellings people write for a unit, and the unit to use instead.
constexpr std::array<std::pair<std::string_view, std::string_view>, 20> kUnitWords{{
    {"ms", "ms"}, {"msec", "ms"}, {"msecs", "ms"}, {"millisecond", "ms"}, {"milliseconds", "ms"},
    {"s", "s"},   {"sec", "s"},   {"secs", "s"},   {"second", "s"},       {"seconds", "s"},
    {"m", "m"},   {"min", "m"},   {"mins", "m"},   {"minute", "m"},       {"minutes", "m"},
    {"h", "h"},   {"hr", "h"},    {"hrs", "h"},    {"hour", "h"},         {"hours", "h"},
}};

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z') {
            c = static_cast<char>(c - 'A' + 'a');
        }
    }
    return out;
}

std::string_view trim(std::string_view s) {
    const auto first = s.find_first_not_of(" \t");
    if (first == std::string_view::npos) {
        return {};
    }
    return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

}  // namespace

std::string duration_complaint(std::string_view text) {
    const std::string shown = quote_value(text) + " is not a duration";
    const std::string_view t = trim(text);
    if (t.empty()) {
        return "has no value (use e.g. 90s, 15m, 1h30m)";
    }
    if (t.front() == '-') {
        return shown + ": durations cannot be negative";
    }
    std::size_t digits = 0;
    while (digits < t.size() && is_digit(t[digits])) {
        ++digits;
    }
    if (digits > 0 && digits < t.size() &&
        t.find_first_not_of("0123456789hms") != std::string_view::npos) {
        const std::string word = lower(trim(t.substr(digits)));
        for (const auto& [spelling, unit] : kUnitWords) {
            if (word == spelling) {
                return shown + " (use " + std::string(t.substr(0, digits)) + std::string(unit) +
                       ")";
            }
        }
    }
    if (digits == t.size()) {
        const std::string n(t);
        return shown + ": add a unit (" + n + "s, " + n + "m or " + n + "h)";
    }
    if (parse_duration(t)) {  // only surrounding blanks were wrong
        return shown + " (use " + std::string(t) + ", without spaces)";
    }
    return shown + " (use e.g. 90s, 15m, 1h30m; units h, m, s, ms, largest first)";
}

}  // namespace detail
}  // namespace rollbot::config
