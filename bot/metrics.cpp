#include "bot/metrics.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace rollbot::core {

namespace {

constexpr std::string_view kDropped = "rollbot_metrics_dropped_total";

std::string_view type_name(MetricType type) {
    switch (type) {
        case MetricType::Counter:
            return "counter";
        case MetricType::Gauge:
            return "gauge";
        case MetricType::Histogram:
            return "histogram";
    }
    return "untyped";
}

// The exposition format's escapes: backslash and newline everywhere, the double quote only in
// label values (HELP text keeps it as is).
std::string escape(std::string_view text, bool quote) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '\n') {
            out += "\\n";
        } else if (quote && c == '"') {
            out += "\\\"";
        } else {
            out += c;
        }
    }
    return out;
}

void append_labels(std::string& out,
                   const std::vector<std::string>& names,
                   const Metrics::LabelValues& values,
                   std::string_view extra_name = {},
                   std::string_view extra_value = {}) {
    if (names.empty() && extra_name.empty()) {
        return;
    }
    out += '{';
    bool first = true;
    for (std::size_t i = 0; i < names.size(); ++i) {
        out += first ? "" : ",";
        first = false;
        out += fmt::format("{}=\"{}\"", names[i], escape_label_value(values[i]));
    }
    if (!extra_name.empty()) {
        out += first ? "" : ",";
        out += fmt::format("{}=\"{}\"", extra_name, extra_value);
    }
    out += '}';
}

}  // namespace

std::string escape_label_value(std::string_view value) {
    return escape(value, true);
}

std::string format_sample(double value) {
    if (std::isnan(value)) {
        return "NaN";
    }
    if (std::isinf(value)) {
        return value > 0 ? "+Inf" : "-Inf";
    }
    constexpr double kExact = 9007199254740992.0;  // 2^53: every integer below is exact
    if (value == std::trunc(value) && std::fabs(value) < kExact) {
        return fmt::format("{}", static_cast<long long>(value));
    }
    return fmt::format("{}", value);
}

Metrics::Metrics() {
    define(std::string(kDropped),
           MetricType::Counter,
           "Samples rollbot dropped because their metric was not declared (a bug)",
           {"metric"});
}

void Metrics::define(std::string name,
                     MetricType type,
                     std::string help,
                     std::vector<std::string> label_names,
                     std::vector<double> buckets) {
    std::sort(buckets.begin(), buckets.end());
    buckets.erase(std::unique(buckets.begin(), buckets.end()), buckets.end());
    Family family;
    family.type = type;
    family.help = std::move(help);
    family.label_names = std::move(label_names);
    family.bounds = std::move(buckets);
    families_.insert_or_assign(std::move(name), std::move(family));
}

Metrics::Series* Metrics::series(std::string_view name,
                                 const LabelValues& labels,
                                 MetricType type) {
    auto it = families_.find(name);
    const bool fits = it != families_.end() && it->second.label_names.size() == labels.size() &&
                      (it->second.type == type ||
                       (type == MetricType::Gauge && it->second.type == MetricType::Counter));
    if (!fits) {
        if (name != kDropped) {
            add(kDropped, {std::string(name)});
        }
        return nullptr;
    }
    Family& family = it->second;
    auto [slot, inserted] = family.series.try_emplace(labels);
    if (inserted && family.type == MetricType::Histogram) {
        slot->second.buckets.assign(family.bounds.size(), 0);
    }
    return &slot->second;
}

void Metrics::add(std::string_view name, const LabelValues& labels, double by) {
    if (!(by >= 0)) {
        by = 0;  // counters only go up; NaN and negatives are ignored
    }
    if (Series* s = series(name, labels, MetricType::Counter)) {
        s->value += by;
    }
}

void Metrics::set(std::string_view name, const LabelValues& labels, double value) {
    if (Series* s = series(name, labels, MetricType::Gauge)) {
        s->value = value;
    }
}

void Metrics::observe(std::string_view name, const LabelValues& labels, double value) {
    Series* s = series(name, labels, MetricType::Histogram);
    if (s == nullptr || std::isnan(value)) {
        return;
    }
    const auto& bounds = families_.find(name)->second.bounds;
    // The first bucket whose upper bound holds the value; above them all is only in +Inf.
    const auto at = std::lower_bound(bounds.begin(), bounds.end(), value);
    if (at != bounds.end()) {
        ++s->buckets[static_cast<std::size_t>(at - bounds.begin())];
    }
    s->sum += value;
    ++s->count;
}

void Metrics::on_collect(std::function<void(Metrics&)> collector) {
    collectors_.push_back(std::move(collector));
}

double Metrics::value(std::string_view name, const LabelValues& labels) const {
    auto it = families_.find(name);
    if (it == families_.end()) {
        return 0;
    }
    auto s = it->second.series.find(labels);
    if (s == it->second.series.end()) {
        return 0;
    }
    return it->second.type == MetricType::Histogram ? static_cast<double>(s->second.count)
                                                    : s->second.value;
}

std::string Metrics::exposition() {
    for (const auto& collect : collectors_) {
        collect(*this);
    }
    std::string out;
    for (const auto& [name, family] : families_) {
        out += fmt::format("# HELP {} {}\n", name, escape(family.help, false));
        out += fmt::format("# TYPE {} {}\n", name, type_name(family.type));
        if (family.series.empty() && family.label_names.empty()) {
            // A family without labels always has its one series: 0 until something happens.
            if (family.type == MetricType::Histogram) {
                for (double bound : family.bounds) {
                    out += fmt::format("{}_bucket{{le=\"{}\"}} 0\n", name, format_sample(bound));
                }
                out += fmt::format("{0}_bucket{{le=\"+Inf\"}} 0\n{0}_sum 0\n{0}_count 0\n", name);
            } else {
                out += fmt::format("{} 0\n", name);
            }
            continue;
        }
        for (const auto& [labels, s] : family.series) {
            if (family.type != MetricType::Histogram) {
                out += name;
                append_labels(out, family.label_names, labels);
                out += ' ' + format_sample(s.value) + '\n';
                continue;
            }
            std::uint64_t cumulative = 0;
            for (std::size_t i = 0; i < family.bounds.size(); ++i) {
                cumulative += s.buckets[i];
                out += name + "_bucket";
                append_labels(
                    out, family.label_names, labels, "le", format_sample(family.bounds[i]));
                out += fmt::format(" {}\n", cumulative);
            }
            out += name + "_bucket";
            append_labels(out, family.label_names, labels, "le", "+Inf");
            out += fmt::format(" {}\n", s.count);
            out += name + "_sum";
            append_labels(out, family.label_names, labels);
            out += ' ' + format_sample(s.sum) + '\n';
            out += name + "_count";
            append_labels(out, family.label_names, labels);
            out += fmt::format(" {}\n", s.count);
        }
    }
    return out;
}

void count(Metrics* metrics, std::string_view name, const Metrics::LabelValues& labels, double by) {
    if (metrics != nullptr) {
        metrics->add(name, labels, by);
    }
}

void define_rollbot_metrics(Metrics& m) {
    using T = MetricType;
    // Seconds. The runbook's targets: script 2 min, pods 5 min, health 8 min, total 15 min.
    const std::vector<double> run_buckets{1, 5, 10, 30, 60, 120, 300, 480, 900, 1800};

    m.define("rollbot_build_info", T::Gauge, "rollbot's version (always 1)", {"version"});
    m.define("rollbot_ready", T::Gauge, "1 while /readyz answers 200");
    m.define("process_start_time_seconds",
             T::Gauge,
             "Start time of the process since the Unix epoch in seconds");
    m.define("process_resident_memory_bytes", T::Gauge, "Resident memory size in bytes");
    // The rollbot_slack_* families belong to the Slack adapter: slack::define_slack_metrics().

    m.define("rollbot_commands_total",
             T::Counter,
             "Slash commands, by kind and what came of them",
             {"kind", "outcome"});
    m.define("rollbot_state_write_errors_total",
             T::Counter,
             "Writes to the state file that failed (full or read-only disk), by what was written",
             {"what"});
    m.define("rollbot_approvals_total", T::Counter, "Closed approvals, by outcome", {"outcome"});
    m.define("rollbot_approvals_pending", T::Gauge, "Approvals waiting for a decision now");
    m.define("rollbot_runs_total",
             T::Counter,
             "Finished runs, by action and outcome",
             {"action", "outcome"});
    m.define("rollbot_runs_active", T::Gauge, "Runs in progress now");
    m.define("rollbot_run_duration_seconds",
             T::Histogram,
             "From the command to the end of the run's last step and first verification",
             {"action"},
             run_buckets);
    m.define("rollbot_outbox_depth",
             T::Gauge,
             "Messages stored and not yet accepted by the chat (reports waiting for Slack)");
    m.define("rollbot_config_reloads_total",
             T::Counter,
             "SIGHUP reloads, by result (applied, unchanged, invalid)",
             {"result"});
}

}  // namespace rollbot::core
