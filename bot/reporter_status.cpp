// `/rollback status`: each deployment with its pods, the service's own signals, and what is in
// progress.
#include "bot/reporter.hpp"

#include <fmt/format.h>

namespace rollbot::core {
namespace {

using templates::Data;

Data deployment_line(const DeploymentStatus& dep) {
    Data x = Data::object();
    x.set("name", dep.name);
    x.set("ok", dep.state.has_value());
    if (!dep.state) {
        x.set("error", dep.error);
        return x;
    }
    x.set("tag", dep.state->tag);
    x.set("revision", std::to_string(dep.state->revision));
    x.set("ready", std::to_string(dep.state->ready));
    x.set("desired", std::to_string(dep.state->desired));
    if (dep.pods && dep.pods->error.empty()) {
        std::string problems;
        for (const auto& pod : dep.pods->pods) {
            if (auto p = pod_problem(pod); !p.empty()) {
                problems += (problems.empty() ? "" : "; ") + pod.name + ": " + p;
            }
        }
        x.set("pods_known", true);
        x.set("restarts", std::to_string(dep.pods->restarts()));
        if (!problems.empty()) {
            x.set("problem", problems);
        }
    } else if (dep.pods) {
        x.set("problem", "pods unreadable: " + dep.pods->error);
    }
    return x;
}

Data run_line(const ActiveRun& r, std::chrono::system_clock::time_point now) {
    Data x = Data::object();
    x.set("icon", "⏳");
    x.set("id", r.id.value);
    x.set("request", r.request);
    x.set("requester", mention(r.requester));
    x.set("state", r.state);
    x.set("since", format_duration(std::chrono::duration_cast<Duration>(now - r.since)) + " ago");
    if (!r.holds.empty()) {
        x.set("holds", r.holds);
    }
    return x;
}

}  // namespace

std::string Reporter::status(const std::vector<DeploymentStatus>& deployments,
                             const std::vector<ActiveRun>& runs,
                             std::chrono::system_clock::time_point now,
                             const ServiceNow& service) const {
    Data d = Data::object();
    d.set("namespace", settings_.kubernetes.namespace_name);
    Data ds = Data::list();
    for (const auto& dep : deployments) {
        ds.push_back(deployment_line(dep));
    }
    d.set("deployments", ds);
    if (service.health || service.error_rate) {
        Data sv = Data::object();
        const auto [health_icon, health_text] = health_line(service.health);
        sv.set("health_icon", health_icon);
        sv.set("health", health_text);
        const MetricReading rate = service.error_rate.value_or(MetricReading{});
        const auto [rate_icon, rate_text] =
            metric_line(rate, settings_.verify.max_error_rate, format_percent);
        sv.set("error_rate_icon", rate_icon);
        sv.set("error_rate", rate_text);
        sv.set("max_error_rate", format_percent(settings_.verify.max_error_rate));
        d.set("service", sv);
    }
    Data rs = Data::list();
    for (const auto& r : runs) {
        rs.push_back(run_line(r, now));
    }
    d.set("runs", rs);
    return renderer_.render("status", d);
}

}  // namespace rollbot::core
