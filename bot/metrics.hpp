#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace rollbot::core {

enum class MetricType { Counter, Gauge, Histogram };

/// The daemon's own counters, gauges and histograms, rendered in the Prometheus text
/// exposition format (0.0.4) for `/metrics`. Used on the io thread only, like the rest of core.
///
/// A family is declared once with its label names; every sample gives one value per label
/// name, in that order. Samples of an undeclared family, or with the wrong number of label
/// values, are dropped and counted in `rollbot_metrics_dropped_total` (a programming error
/// must not take the daemon down, and must not go unnoticed either).
class Metrics {
public:
    using LabelValues = std::vector<std::string>;

    Metrics();

    void define(std::string name,
                MetricType type,
                std::string help,
                std::vector<std::string> label_names = {},
                std::vector<double> buckets = {});

    /// Counter: adds `by` (>= 0).
    void add(std::string_view name, const LabelValues& labels = {}, double by = 1);
    /// Gauge, or a counter copied from the component that keeps it: sets the value.
    void set(std::string_view name, const LabelValues& labels, double value);
    /// Histogram: one observation.
    void observe(std::string_view name, const LabelValues& labels, double value);

    /// Runs before every exposition: copies state kept elsewhere (connection, outbox) in.
    void on_collect(std::function<void(Metrics&)> collector);

    /// The text exposition; calls the collectors first.
    [[nodiscard]] std::string exposition();

    /// A counter's or gauge's value, or a histogram's count; 0 when never set. For tests.
    [[nodiscard]] double value(std::string_view name, const LabelValues& labels = {}) const;

private:
    struct Series {
        double value = 0;
        std::vector<std::uint64_t> buckets;  // cumulative counts are computed when rendered
        double sum = 0;
        std::uint64_t count = 0;
    };
    struct Family {
        MetricType type = MetricType::Counter;
        std::string help;
        std::vector<std::string> label_names;
        std::vector<double> bounds;  // histogram upper bounds, ascending, without +Inf
        std::map<LabelValues, Series> series;
    };

    Series* series(std::string_view name, const LabelValues& labels, MetricType type);

    std::map<std::string, Family, std::less<>> families_;
    std::vector<std::function<void(Metrics&)>> collectors_;
};

/// Adds 1 (or `by`) to a counter when `metrics` is attached (the flow parts work without).
void count(Metrics* metrics,
           std::string_view name,
           const Metrics::LabelValues& labels,
           double by = 1);

/// The core's families (names, help, labels, buckets); the Slack adapter declares its own
/// (slack::define_slack_metrics).
void define_rollbot_metrics(Metrics& metrics);

/// Escapes a label value for the exposition format (backslash, double quote, newline).
[[nodiscard]] std::string escape_label_value(std::string_view value);

/// A sample value as the exposition format writes it: integers without a fraction, +Inf,
/// -Inf, NaN, otherwise the shortest text that reads back to the same double.
[[nodiscard]] std::string format_sample(double value);

}  // namespace rollbot::core
