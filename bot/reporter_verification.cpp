// The verification summary and the time-to-rollback table, posted in the run's thread.
#include "bot/reporter.hpp"
#include "bot/verification.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <cmath>

namespace rollbot::core {
namespace {

using templates::Data;

constexpr std::string_view kPass = "✅";
constexpr std::string_view kFail = "⚠️";
constexpr std::string_view kUnknown = "❔";

std::string icon(std::string_view which) {
    return std::string(which);
}

Data pods_line(const PodsCheck& check) {
    Data d = Data::object();
    d.set("deployment", check.deployment);
    d.set("readable", check.error.empty());
    if (!check.error.empty()) {
        d.set("icon", icon(kUnknown));
        d.set("error", check.error);
        return d;
    }
    int ooms = 0;
    int crash_loops = 0;
    int image_pull = 0;
    for (const auto& pod : check.pods) {
        ooms += pod_oom_killed(pod) ? 1 : 0;
        crash_loops += pod_crash_looping(pod) ? 1 : 0;
        image_pull += pod_image_pull_failing(pod) ? 1 : 0;
    }
    d.set("icon", icon(check.healthy() ? kPass : kFail));  // judge()'s rule
    d.set("ready", std::to_string(check.ready()));
    d.set("total", std::to_string(check.pods.size()));
    d.set("restarts", std::to_string(check.restarts()));
    d.set("ooms", std::to_string(ooms));
    d.set("crash_loops", std::to_string(crash_loops));
    d.set("image_pull", image_pull > 0);
    d.set("image_pull_count", std::to_string(image_pull));
    return d;
}

std::string target_minutes(Duration target) {
    const double minutes = std::chrono::duration<double, std::ratio<60>>(target).count();
    return minutes == std::floor(minutes) ? fmt::format("{:.0f} min", minutes)
                                          : fmt::format("{:.1f} min", minutes);
}

}  // namespace

std::pair<std::string, std::string> metric_line(const MetricReading& reading,
                                                double threshold,
                                                std::string (*format)(double, int)) {
    if (!reading.value || !std::isfinite(*reading.value)) {
        return {icon(kUnknown),
                reading.detail.empty() ? std::string("unknown")
                                       : fmt::format("unknown — {}", reading.detail)};
    }
    return {icon(*reading.value <= threshold ? kPass : kFail), format(*reading.value, 1)};
}

std::pair<std::string, std::string> health_line(const std::optional<HealthCheck>& h) {
    if (!h) {
        return {icon(kUnknown), "not checked"};
    }
    const bool two_xx = !h->status || (*h->status >= 200 && *h->status < 300);
    const auto shown = icon(h->healthy && two_xx ? kPass : kFail);
    if (!h->status) {
        return {shown, fmt::format("no answer ({})", h->detail.empty() ? "no detail" : h->detail)};
    }
    return {shown, fmt::format("{} in {} ms", *h->status, h->latency.count())};
}

std::string Reporter::verification_summary(const Verification& v,
                                           const Verdict& verdict,
                                           const VerifySettings& settings) const {
    Data d = Data::object();
    d.set("at", fmt::format("{:%H:%M:%S} UTC", std::chrono::floor<std::chrono::seconds>(v.at)));
    d.set("rollout_icon", icon(v.rollout_finished ? kPass : kFail));
    d.set("rollout", v.rollout_finished ? "finished" : "not finished");
    Data pods = Data::list();
    for (const auto& check : v.pods) {
        pods.push_back(pods_line(check));
    }
    d.set("pods", pods);
    const auto max_p95 = std::chrono::duration<double>(settings.max_p95_latency).count();
    const auto [rate_icon, rate_text] =
        metric_line(v.error_rate, settings.max_error_rate, format_percent);
    d.set("error_rate_icon", rate_icon);
    d.set("error_rate", rate_text);
    d.set("max_error_rate", format_percent(settings.max_error_rate));
    const auto [p95_icon, p95_text] = metric_line(v.p95, max_p95, format_seconds);
    d.set("p95_icon", p95_icon);
    d.set("p95", p95_text);
    d.set("max_p95", format_seconds(max_p95));
    const auto [health_icon, health_text] = health_line(v.health);
    d.set("health_icon", health_icon);
    d.set("health", health_text);
    d.set("restored", verdict.restored);
    Data reasons = Data::list();
    for (const auto& reason : verdict.reasons) {
        Data r = Data::object();
        r.set("text", reason);
        reasons.push_back(r);
    }
    d.set("reasons", reasons);
    return renderer_.render("verification", d);
}

std::string Reporter::time_table(const std::vector<TimeRow>& rows) const {
    Data list = Data::list();
    for (const auto& row : rows) {
        Data r = Data::object();
        r.set("icon", row.measured ? icon(row.met() ? kPass : kFail) : std::string("—"));
        r.set("phase", row.phase);
        // An unmeasured row with a note says why (no incident start), the others "not reached".
        r.set("value",
              row.measured       ? format_minutes(*row.measured)
              : row.note.empty() ? std::string("not reached")
                                 : row.note);
        r.set("target", target_minutes(row.target));
        if (row.measured && !row.note.empty()) {
            r.set("note", row.note);
        }
        list.push_back(r);
    }
    Data d = Data::object();
    d.set("rows", list);
    return renderer_.render("time_table", d);
}

std::string Reporter::watch_update(const Verification& at_report,
                                   const Verification& now,
                                   Duration after,
                                   Duration next,
                                   const std::optional<Trend>& trend,
                                   const Verdict& verdict,
                                   std::string_view suggestion) const {
    const auto& settings = settings_.verify;
    Data d = Data::object();
    d.set("after", format_minutes(after));
    const auto [rate_icon, rate_text] =
        metric_line(now.error_rate, settings.max_error_rate, format_percent);
    d.set("error_rate_icon", rate_icon);
    d.set("error_rate", rate_text);
    d.set("error_rate_arrow", std::string(trend_arrow(at_report.error_rate, now.error_rate)));
    d.set("error_rate_before",
          metric_line(at_report.error_rate, settings.max_error_rate, format_percent).second);
    d.set("max_error_rate", format_percent(settings.max_error_rate));
    const auto max_p95 = std::chrono::duration<double>(settings.max_p95_latency).count();
    const auto [p95_icon, p95_text] = metric_line(now.p95, max_p95, format_seconds);
    d.set("p95_icon", p95_icon);
    d.set("p95", p95_text);
    d.set("p95_arrow", std::string(trend_arrow(at_report.p95, now.p95)));
    d.set("p95_before", metric_line(at_report.p95, max_p95, format_seconds).second);
    d.set("max_p95", format_seconds(max_p95));
    const auto [health_icon, health_text] = health_line(now.health);
    d.set("health_icon", health_icon);
    d.set("health", health_text);
    Data pods = Data::list();
    for (const auto& check : now.pods) {
        pods.push_back(pods_line(check));
    }
    d.set("pods", pods);
    if (trend) {
        d.set("final", true);
        d.set("trend", std::string(to_string(*trend)));
        d.set("trend_icon",
              *trend == Trend::Recovered ? "✅"
              : *trend == Trend::Worse   ? "🔴"
                                         : "🟡");
        Data reasons = Data::list();
        for (const auto& reason : verdict.reasons) {
            Data r = Data::object();
            r.set("text", reason);
            reasons.push_back(r);
        }
        d.set("reasons", reasons);
        if (!suggestion.empty()) {
            d.set("suggestion", std::string(suggestion));
        }
    } else {
        d.set("final", false);
        d.set("next", format_minutes(next));
    }
    return renderer_.render("watch", d);
}

std::string Reporter::advice(const Advice& advice) const {
    Data d = Data::object();
    d.set("now", advice.kind == AdviceKind::RollbackNow);
    d.set("hotfix", advice.kind == AdviceKind::ProbablyHotfix);
    d.set("unrelated", advice.kind == AdviceKind::NotDeploymentRelated);
    d.set("cannot_tell", advice.kind == AdviceKind::CannotTell);
    const auto lines = [](const std::vector<std::string>& texts) {
        Data list = Data::list();
        for (const auto& text : texts) {
            Data t = Data::object();
            t.set("text", text);
            list.push_back(t);
        }
        return list;
    };
    d.set("evidence", lines(advice.evidence));
    d.set("unknown", lines(advice.unknown));
    if (!advice.command.empty()) {
        d.set("command", advice.command);
    }
    return renderer_.render("advice", d);
}

}  // namespace rollbot::core
