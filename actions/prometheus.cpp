#include "actions/prometheus.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <utility>

namespace rollbot::actions {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using TimePoint = std::chrono::system_clock::time_point;

// The server gets `timeout=`; the client waits this much longer so that Prometheus' own
// readable 503 timeout answer arrives before a bare client-side timeout (reference §6).
constexpr milliseconds kClientMargin{2000};
// Execution errors quote whole series sets; Slack readers need the start only.
constexpr std::size_t kMaxErrorText = 200;

const json* member(const json& object, const char* key) {
    if (!object.is_object()) {
        return nullptr;
    }
    const auto it = object.find(key);
    return it == object.end() ? nullptr : &*it;
}

std::string string_at(const json& object, const char* key) {
    const json* value = member(object, key);
    return value != nullptr && value->is_string() ? value->get<std::string>() : std::string{};
}

// Cuts at a character boundary: the text is UTF-8 and ends up in a Slack message.
std::string clip(std::string text, std::size_t max) {
    if (text.size() <= max) {
        return text;
    }
    std::size_t cut = max;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0U) == 0x80U) {
        --cut;
    }
    text.resize(cut);
    return text + "…";
}

core::MetricReading no_data(std::string_view reason) {
    return core::MetricReading{std::nullopt, fmt::format("no data: {}", reason)};
}

core::MetricReading failed(std::string_view reason) {
    return core::MetricReading{std::nullopt, fmt::format("error: {}", reason)};
}

core::MetricReading malformed(std::string_view what) {
    return failed(fmt::format("malformed Prometheus response ({})", what));
}

// A `[<unix seconds>, "<value>"]` pair. Values are strings ("0.04", "NaN", "+Inf"), which
// strtod reads in every spelling Prometheus uses. nullopt: not that shape.
std::optional<double> sample_value(const json& pair) {
    if (!pair.is_array() || pair.size() != 2 || !pair[0].is_number() || !pair[1].is_string()) {
        return std::nullopt;
    }
    const auto& text = pair[1].get_ref<const std::string&>();
    char* end = nullptr;
    const double value = std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size()) {
        return std::nullopt;
    }
    return value;
}

std::optional<TimePoint> sample_time(const json& pair) {
    if (!pair.is_array() || pair.empty() || !pair[0].is_number()) {
        return std::nullopt;
    }
    // system_clock counts int64 nanoseconds: ±9.2e9 s, years 1677..2262. A time beyond half of
    // that (after 2116) is not a Prometheus sample, and converting it would overflow.
    constexpr double kLimit = std::chrono::duration<double>(TimePoint::duration::max()).count() / 2;
    const double seconds = pair[0].get<double>();
    if (!std::isfinite(seconds) || std::fabs(seconds) > kLimit) {
        return std::nullopt;
    }
    const milliseconds ms{std::llround(seconds * 1000)};
    return TimePoint{std::chrono::duration_cast<TimePoint::duration>(ms)};
}

// Prometheus' own spelling of the values strtod reads as NaN and ±Inf.
std::string_view non_finite_text(double value) {
    if (std::isnan(value)) {
        return "NaN";
    }
    return value > 0 ? "+Inf" : "-Inf";
}

core::MetricReading non_finite(double value) {
    if (std::isnan(value)) {
        return no_data("NaN (no traffic in the window)");
    }
    return no_data(fmt::format("{} (the query divided by zero)", non_finite_text(value)));
}

core::MetricReading read_vector(const json& result, Worst worst) {
    if (result.empty()) {
        return no_data("empty result (metric missing or renamed?)");
    }
    std::optional<double> chosen;
    std::optional<double> skipped;  // a NaN or ±Inf, reported when nothing had a number
    int numbers = 0;
    int without = 0;
    for (const auto& series : result) {
        const json* value = member(series, "value");
        const auto sample = value != nullptr ? sample_value(*value) : std::nullopt;
        if (!sample) {
            return malformed("a vector element has no [time, \"value\"] pair");
        }
        if (!std::isfinite(*sample)) {
            ++without;
            // Inf says more than NaN about what went wrong: keep it when both occur.
            skipped = skipped && std::isinf(*skipped) ? *skipped : *sample;
            continue;
        }
        ++numbers;
        const bool worse =
            !chosen || (worst == Worst::Highest ? *sample > *chosen : *sample < *chosen);
        chosen = worse ? *sample : *chosen;
    }
    if (!chosen) {
        return non_finite(*skipped);
    }
    std::string detail = fmt::format("{:g}", *chosen);
    if (numbers > 1 && without > 0) {
        detail += fmt::format(" (worst of {} series; {} without data ignored)", numbers, without);
    } else if (numbers > 1) {
        detail += fmt::format(" (worst of {} series)", numbers);
    } else if (without > 0) {
        detail += fmt::format(" ({} series without data ignored)", without);
    }
    return core::MetricReading{chosen, std::move(detail)};
}

core::MetricReading read_data(const json& data, Worst worst) {
    const std::string type = string_at(data, "resultType");
    const json* result = member(data, "result");
    if (result == nullptr) {
        return malformed("no data.result");
    }
    if (type == "vector") {
        return result->is_array() ? read_vector(*result, worst)
                                  : malformed("data.result is not an array");
    }
    if (type == "scalar") {
        const auto sample = sample_value(*result);
        if (!sample) {
            return malformed("the scalar is not a [time, \"value\"] pair");
        }
        return std::isfinite(*sample) ? core::MetricReading{sample, fmt::format("{:g}", *sample)}
                                      : non_finite(*sample);
    }
    if (type == "string") {
        return no_data("the query returned a string, not a number");
    }
    if (type == "matrix") {
        return no_data("the query returned a range (matrix), not an instant value");
    }
    return malformed(fmt::format("unknown resultType \"{}\"", clip(type, 40)));
}

std::string envelope_error(int http_status, const json& envelope) {
    const std::string type = string_at(envelope, "errorType");
    const std::string text = clip(string_at(envelope, "error"), kMaxErrorText);
    std::string out =
        type.empty() ? fmt::format("{}", http_status) : fmt::format("{} {}", http_status, type);
    return text.empty() ? out : fmt::format("{}: {}", out, text);
}

// CurlHttpClient says "http.send: POST host:port: connection refused"; keep the reason.
std::string_view reason(std::string_view message) {
    constexpr std::string_view kPrefix = "http.send: ";
    if (!message.starts_with(kPrefix)) {
        return message;
    }
    const auto end = message.find(": ", kPrefix.size());
    return end == std::string_view::npos ? message : message.substr(end + 2);
}

// Prometheus reads durations like "10s"; round up so the server never gives up earlier.
std::string duration_text(milliseconds d) {
    const auto seconds = std::max<std::int64_t>(1, (d.count() + 999) / 1000);
    return fmt::format("{}s", seconds);
}

std::string unix_seconds(TimePoint t) {
    const auto ms = std::chrono::duration_cast<milliseconds>(t.time_since_epoch()).count();
    return fmt::format("{}.{:03}", ms / 1000, ms % 1000);
}

}  // namespace

core::MetricReading parse_instant_query(int http_status, std::string_view body, Worst worst) {
    const json envelope = json::parse(body, nullptr, false);
    if (envelope.is_discarded() || !envelope.is_object()) {
        // Proxies and auth layers in front of Prometheus answer 401/502/504 with HTML.
        return http_status == 200
                   ? malformed("not JSON")
                   : failed(fmt::format("HTTP {} (not Prometheus JSON)", http_status));
    }
    const std::string status = string_at(envelope, "status");
    if (status == "error") {
        return failed(envelope_error(http_status, envelope));
    }
    if (http_status < 200 || http_status >= 300) {
        return failed(fmt::format("HTTP {} (not Prometheus JSON)", http_status));
    }
    if (status != "success") {
        return malformed("status is not \"success\"");
    }
    const json* data = member(envelope, "data");
    if (data == nullptr || !data->is_object()) {
        return malformed("no data object");
    }
    return read_data(*data, worst);
}

std::optional<TimePoint> first_crossing_in(std::string_view body, double threshold) {
    const json envelope = json::parse(body, nullptr, false);
    if (envelope.is_discarded() || string_at(envelope, "status") != "success") {
        return std::nullopt;
    }
    const json* data = member(envelope, "data");
    const json* result = data != nullptr ? member(*data, "result") : nullptr;
    if (result == nullptr || !result->is_array() || string_at(*data, "resultType") != "matrix") {
        return std::nullopt;
    }
    std::optional<TimePoint> first;
    for (const auto& series : *result) {
        const json* values = member(series, "values");
        if (values == nullptr || !values->is_array()) {
            continue;
        }
        // The start of this series' last run above the threshold: an earlier spike that ended
        // is not this incident. NaN and ±Inf (no traffic, x/0) neither start nor end a run.
        std::optional<TimePoint> run_start;
        bool above = false;
        for (const auto& pair : *values) {
            const auto value = sample_value(pair);
            if (!value || !std::isfinite(*value)) {
                continue;
            }
            const auto at = sample_time(pair);
            if (!at) {
                continue;
            }
            if (*value <= threshold) {
                above = false;
            } else if (!above) {
                above = true;
                run_start = at;
            }
        }
        if (run_start && (!first || *run_start < *first)) {
            first = run_start;
        }
    }
    return first;
}

std::string format_ratio_percent(double ratio) {
    if (!std::isfinite(ratio)) {
        return std::string(non_finite_text(ratio));
    }
    const double percent = ratio * 100;
    // Below 0.1 % one decimal reads as "0.0 %", which hides a non-zero error rate.
    if (percent != 0 && std::fabs(percent) < 0.1) {
        return fmt::format("{:.1g} %", percent);
    }
    return fmt::format("{:.1f} %", percent);
}

std::string format_seconds(double seconds) {
    if (!std::isfinite(seconds)) {
        return std::string(non_finite_text(seconds));
    }
    const double ms = seconds * 1000;
    if (std::fabs(ms) < 9.95) {
        return fmt::format("{:.1f} ms", ms);
    }
    if (std::fabs(ms) < 999.5) {
        return fmt::format("{:.0f} ms", ms);
    }
    if (std::fabs(seconds) < 99.995) {
        return fmt::format("{:.2f} s", seconds);
    }
    return fmt::format("{:.0f} s", seconds);
}

PrometheusClient::PrometheusClient(core::HttpClient& http,
                                   std::string base_url,
                                   milliseconds timeout)
    : http_(http), base_url_(std::move(base_url)), timeout_(timeout) {
    while (!base_url_.empty() && base_url_.back() == '/') {
        base_url_.pop_back();
    }
}

core::HttpRequest PrometheusClient::post(std::string_view path, std::string form) const {
    core::HttpRequest request;
    request.method = "POST";
    request.url = base_url_ + std::string(path);
    request.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                       {"Accept", "application/json"}};
    request.body = std::move(form) + "&timeout=" + duration_text(timeout_);
    request.timeout = timeout_ + kClientMargin;
    request.connect_timeout = std::min(request.connect_timeout, request.timeout);
    return request;
}

boost::asio::awaitable<core::MetricReading> PrometheusClient::query(std::string promql,
                                                                    Worst worst) {
    core::HttpRequest request = post("/api/v1/query", "query=" + core::form_encode(promql));
    const auto answer = co_await http_.send(std::move(request));
    if (!answer) {
        co_return failed(
            fmt::format("Prometheus did not answer: {}", reason(answer.error().message)));
    }
    co_return parse_instant_query(answer->status, answer->body, worst);
}

boost::asio::awaitable<std::optional<TimePoint>> PrometheusClient::first_crossing(
    std::string promql, double threshold, TimePoint from, TimePoint to, std::chrono::seconds step) {
    const std::string form = fmt::format("query={}&start={}&end={}&step={}s",
                                         core::form_encode(promql),
                                         unix_seconds(from),
                                         unix_seconds(to),
                                         std::max<std::int64_t>(1, step.count()));
    core::HttpRequest request = post("/api/v1/query_range", form);
    const auto answer = co_await http_.send(std::move(request));
    if (!answer || answer->status != 200) {
        co_return std::nullopt;
    }
    co_return first_crossing_in(answer->body, threshold);
}

}  // namespace rollbot::actions
