#pragma once

#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace rollbot::test {

/// One sample line of the Prometheus text format.
struct ExpositionSample {
    std::string name;
    std::map<std::string, std::string> labels;  // values unescaped
    double value = 0;
};

struct Exposition {
    std::map<std::string, std::string> types;  // family -> counter, gauge, histogram, …
    std::map<std::string, std::string> help;
    std::vector<ExpositionSample> samples;

    /// The value of the one sample with this name and exactly these labels; NaN if none.
    [[nodiscard]] double value(std::string_view name,
                               const std::map<std::string, std::string>& labels = {}) const;
};

/// A strict reader of the text exposition format 0.0.4, written from its specification, to
/// check what rollbotd serves: every line must be a HELP, a TYPE or a sample; names and label
/// names must be legal; label values may only use the three escapes; a value must parse as a
/// Go float (+Inf, -Inf, NaN included); a family's TYPE comes before its samples, once; a
/// family's lines are one group; no series twice; counters are not negative; histogram
/// buckets are cumulative in `le` order and end in +Inf equal to _count. Returns the first
/// problem as "line N: what" instead of a value.
[[nodiscard]] std::variant<Exposition, std::string> parse_exposition(std::string_view text);

}  // namespace rollbot::test
