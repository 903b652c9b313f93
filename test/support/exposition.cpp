#include "test/support/exposition.hpp"

#include <fmt/format.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <optional>
#include <set>

namespace rollbot::test {

namespace {

bool name_start(char c, bool colon) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
}

bool name_char(char c, bool colon) {
    return name_start(c, colon) || (c >= '0' && c <= '9');
}

// A metric name (colons allowed) or a label name (no colons).
std::optional<std::string_view> take_name(std::string_view& s, bool colon) {
    if (s.empty() || !name_start(s[0], colon)) {
        return std::nullopt;
    }
    std::size_t n = 1;
    while (n < s.size() && name_char(s[n], colon)) {
        ++n;
    }
    auto name = s.substr(0, n);
    s.remove_prefix(n);
    return name;
}

std::optional<double> parse_float(std::string_view s) {
    if (s == "+Inf" || s == "Inf") {
        return std::numeric_limits<double>::infinity();
    }
    if (s == "-Inf") {
        return -std::numeric_limits<double>::infinity();
    }
    if (s == "NaN") {
        return std::numeric_limits<double>::quiet_NaN();
    }
    if (s.empty()) {
        return std::nullopt;
    }
    for (char c : s) {
        const bool ok =
            (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-';
        if (!ok) {
            return std::nullopt;
        }
    }
    const std::string text(s);
    char* end = nullptr;
    const double value = std::strtod(text.c_str(), &end);
    if (end != text.c_str() + text.size()) {
        return std::nullopt;
    }
    return value;
}

// The family a sample name belongs to, given the declared types.
std::optional<std::string> family_of(const std::string& name,
                                     const std::map<std::string, std::string>& types) {
    if (types.contains(name)) {
        return name;
    }
    for (std::string_view suffix : {"_bucket", "_sum", "_count"}) {
        if (name.ends_with(suffix)) {
            std::string base = name.substr(0, name.size() - suffix.size());
            auto it = types.find(base);
            if (it != types.end() && (it->second == "histogram" || it->second == "summary")) {
                return base;
            }
        }
    }
    return std::nullopt;
}

struct Parser {
    Exposition out;
    std::string current;  // family of the group being read
    std::set<std::string> finished;
    std::set<std::pair<std::string, std::map<std::string, std::string>>> seen;

    std::optional<std::string> enter(const std::string& family) {
        if (family == current) {
            return std::nullopt;
        }
        if (finished.contains(family)) {
            return "the lines of " + family + " are not one group";
        }
        if (!current.empty()) {
            finished.insert(current);
        }
        current = family;
        return std::nullopt;
    }

    std::optional<std::string> comment(std::string_view line) {
        line.remove_prefix(1);
        if (!line.starts_with(' ')) {
            return std::nullopt;  // a plain comment
        }
        line.remove_prefix(1);
        const bool is_help = line.starts_with("HELP ");
        const bool is_type = line.starts_with("TYPE ");
        if (!is_help && !is_type) {
            return std::nullopt;
        }
        line.remove_prefix(5);
        auto name = take_name(line, true);
        if (!name || !line.starts_with(' ')) {
            return std::string("bad ") + (is_help ? "HELP" : "TYPE") + " line";
        }
        line.remove_prefix(1);
        const std::string family(*name);
        if (auto e = enter(family)) {
            return e;
        }
        if (is_help) {
            for (std::size_t i = 0; i < line.size(); ++i) {
                if (line[i] == '\\' &&
                    (i + 1 == line.size() || (line[i + 1] != '\\' && line[i + 1] != 'n'))) {
                    return "HELP with an escape other than \\\\ or \\n";
                }
                i += line[i] == '\\' ? 1U : 0U;
            }
            if (!out.help.emplace(family, std::string(line)).second) {
                return "second HELP for " + family;
            }
            return std::nullopt;
        }
        static const std::set<std::string_view> kTypes{
            "counter", "gauge", "histogram", "summary", "untyped"};
        if (!kTypes.contains(line)) {
            return "unknown type " + std::string(line);
        }
        for (const auto& s : out.samples) {
            if (family_of(s.name, {{family, std::string(line)}})) {
                return "TYPE of " + family + " after its samples";
            }
        }
        if (!out.types.emplace(family, std::string(line)).second) {
            return "second TYPE for " + family;
        }
        return std::nullopt;
    }

    std::optional<std::string> sample(std::string_view line) {
        ExpositionSample s;
        auto name = take_name(line, true);
        if (!name) {
            return "not a metric name";
        }
        s.name = std::string(*name);
        if (line.starts_with('{')) {
            line.remove_prefix(1);
            while (!line.starts_with('}')) {
                auto label = take_name(line, false);
                if (!label || !line.starts_with("=\"")) {
                    return "bad label in " + s.name;
                }
                line.remove_prefix(2);
                std::string value;
                for (;;) {
                    if (line.empty()) {
                        return "unterminated label value in " + s.name;
                    }
                    const char c = line[0];
                    line.remove_prefix(1);
                    if (c == '"') {
                        break;
                    }
                    if (c == '\n') {
                        return "raw newline in a label value";
                    }
                    if (c == '\\') {
                        if (line.empty() || (line[0] != '\\' && line[0] != '"' && line[0] != 'n')) {
                            return "bad escape in a label value of " + s.name;
                        }
                        value += line[0] == 'n' ? '\n' : line[0];
                        line.remove_prefix(1);
                        continue;
                    }
                    value += c;
                }
                if (!s.labels.emplace(std::string(*label), value).second) {
                    return "label " + std::string(*label) + " twice in " + s.name;
                }
                if (line.starts_with(',')) {
                    line.remove_prefix(1);
                } else if (!line.starts_with('}')) {
                    return "expected , or } in " + s.name;
                }
            }
            line.remove_prefix(1);
        }
        if (!line.starts_with(' ')) {
            return "expected a space before the value of " + s.name;
        }
        line.remove_prefix(1);
        const auto space = line.find(' ');
        auto value = parse_float(line.substr(0, space));
        if (!value) {
            return "value is not a float in " + s.name;
        }
        if (space != std::string_view::npos) {
            auto ts = line.substr(space + 1);
            long long t = 0;
            char* end = nullptr;
            const std::string text(ts);
            t = std::strtoll(text.c_str(), &end, 10);
            (void)t;
            if (ts.empty() || end != text.c_str() + text.size()) {
                return "bad timestamp in " + s.name;
            }
        }
        s.value = *value;
        auto family = family_of(s.name, out.types);
        if (!family) {
            return "sample " + s.name + " has no TYPE before it";
        }
        if (auto e = enter(*family)) {
            return e;
        }
        if (out.types[*family] == "counter" && !(s.value >= 0)) {
            return "counter " + s.name + " is negative or NaN";
        }
        if (!seen.emplace(s.name, s.labels).second) {
            return "series " + s.name + " twice";
        }
        out.samples.push_back(std::move(s));
        return std::nullopt;
    }

    std::optional<std::string> histograms() const {
        for (const auto& [family, type] : out.types) {
            if (type != "histogram") {
                continue;
            }
            // Per label set (without le): buckets in order, +Inf last and equal to _count.
            std::map<std::map<std::string, std::string>, std::vector<std::pair<double, double>>>
                buckets;
            std::map<std::map<std::string, std::string>, double> counts;
            for (const auto& s : out.samples) {
                if (s.name == family + "_bucket") {
                    auto labels = s.labels;
                    auto le = labels.find("le");
                    if (le == labels.end()) {
                        return family + "_bucket without le";
                    }
                    auto bound = parse_float(le->second);
                    if (!bound) {
                        return family + "_bucket with le " + le->second;
                    }
                    labels.erase(le);
                    buckets[labels].emplace_back(*bound, s.value);
                } else if (s.name == family + "_count") {
                    counts[s.labels] = s.value;
                }
            }
            for (const auto& [labels, list] : buckets) {
                for (std::size_t i = 1; i < list.size(); ++i) {
                    if (!(list[i].first > list[i - 1].first) ||
                        list[i].second < list[i - 1].second) {
                        return family + ": buckets not cumulative in le order";
                    }
                }
                if (list.empty() || !std::isinf(list.back().first)) {
                    return family + ": no +Inf bucket";
                }
                auto count = counts.find(labels);
                if (count == counts.end() || count->second != list.back().second) {
                    return family + ": +Inf bucket differs from _count";
                }
            }
        }
        return std::nullopt;
    }
};

}  // namespace

double Exposition::value(std::string_view name,
                         const std::map<std::string, std::string>& labels) const {
    for (const auto& s : samples) {
        if (s.name == name && s.labels == labels) {
            return s.value;
        }
    }
    return std::numeric_limits<double>::quiet_NaN();
}

std::variant<Exposition, std::string> parse_exposition(std::string_view text) {
    if (text.empty() || text.back() != '\n') {
        return std::string("the text does not end with a line feed");
    }
    Parser parser;
    std::size_t number = 0;
    while (!text.empty()) {
        ++number;
        const auto nl = text.find('\n');
        const auto line = text.substr(0, nl);
        text.remove_prefix(nl + 1);
        if (line.empty()) {
            return fmt::format("line {}: empty line", number);
        }
        auto problem = line.starts_with('#') ? parser.comment(line) : parser.sample(line);
        if (problem) {
            return fmt::format("line {}: {}: {}", number, *problem, line);
        }
    }
    if (auto problem = parser.histograms()) {
        return *problem;
    }
    return std::move(parser.out);
}

}  // namespace rollbot::test
