// The daemon's operations side: /readyz checks, /metrics families and what is copied into them
// at every scrape.

#include "bot/daemon/daemon.hpp"

#include <fmt/format.h>

#include <cstdio>
#include <unistd.h>

namespace rollbot::daemon {
namespace {

// Resident set size from /proc (bytes), 0 when unreadable.
double resident_bytes() {
    std::FILE* f = std::fopen("/proc/self/statm", "r");
    if (f == nullptr) {
        return 0;
    }
    long pages = 0;
    long resident = 0;
    const int read = std::fscanf(f, "%ld %ld", &pages, &resident);
    std::fclose(f);
    return read == 2 ? static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE))
                     : 0;
}

}  // namespace

void Daemon::define_metrics() {
    core::define_rollbot_metrics(metrics_);
    slack::define_slack_metrics(metrics_);  // in console mode too: /metrics is the same shape
    if (chat_.slack) {
        chat_.slack->attach_metrics(metrics_);
    }
    metrics_.set("rollbot_build_info", {ROLLBOT_VERSION}, 1);
    if (replication_) {
        using T = core::MetricType;
        metrics_.define("rollbot_replication_role",
                        T::Gauge,
                        "1 for this replica's role: connecting, standby, leader, deposed",
                        {"role"});
        metrics_.define(
            "rollbot_lease_term", T::Gauge, "the lease term this replica holds, 0 when none");
        metrics_.define("rollbot_lease_renewals_total",
                        T::Counter,
                        "lease renewals by this replica, by result",
                        {"result"});
        metrics_.define("rollbot_takeovers_total", T::Counter, "times this replica took the lease");
    }
    metrics_.set(
        "process_start_time_seconds",
        {},
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count());
    metrics_.on_collect([this](core::Metrics& m) { collect(m); });
}

std::vector<core::ReadinessCheck> Daemon::readiness() {
    std::vector<core::ReadinessCheck> checks;
    if (stopping_) {
        checks.push_back({"stopping", false, "rollbot is shutting down"});
    }
    if (replication_) {
        checks.push_back(replication_check());
    }
    const bool leading = !replication_ || replication_->status().role == Role::Leader;
    if (chat_.slack && leading) {
        const auto& status = chat_.slack->status();
        std::string detail = status.live ? fmt::format("connected (Slack counts {} connection(s))",
                                                       status.num_connections)
                                         : "no live Socket Mode connection (connecting)";
        if (status.fatal) {
            detail = "stopped reconnecting: " + status.fatal_reason;
        }
        checks.push_back({"slack", status.live && !status.fatal, std::move(detail)});
    } else if (leading) {
        checks.push_back(
            {"started", started_, started_ ? "console mode, state restored" : "restoring state"});
    }
    auto writable = store_->check_writable();
    const std::string where = replication_ ? std::string("PostgreSQL (state.url) answers")
                                           : settings_.state.path + " is writable";
    checks.push_back({"state", writable.has_value(), writable ? where : writable.error().message});
    return checks;
}

core::ReadinessCheck Daemon::replication_check() const {
    const auto& st = replication_->status();
    switch (st.role) {
        case Role::Leader:
            return {
                "role", true, fmt::format("leader (term {}, {})", st.term, replication_->holder())};
        case Role::Standby:
            return {"role",
                    st.problem.empty(),
                    st.problem.empty() ? "standby: another replica holds the lease"
                                       : "standby: " + st.problem};
        case Role::Connecting:
            return {"role", false, "connecting to PostgreSQL: " + st.problem};
        case Role::Deposed:
            break;
    }
    return {"role", false, "deposed: stopping"};
}

void Daemon::collect(core::Metrics& m) {
    m.set("rollbot_ready", {}, endpoints_.readiness().first ? 1 : 0);
    if (replication_) {
        const auto& st = replication_->status();
        for (Role r : {Role::Connecting, Role::Standby, Role::Leader, Role::Deposed}) {
            m.set("rollbot_replication_role", {std::string(to_string(r))}, st.role == r ? 1 : 0);
        }
        m.set("rollbot_lease_term", {}, static_cast<double>(st.term));
        m.set("rollbot_lease_renewals_total", {"ok"}, static_cast<double>(st.renewals));
        m.set("rollbot_lease_renewals_total", {"failed"}, static_cast<double>(st.renewal_failures));
        m.set("rollbot_takeovers_total", {}, static_cast<double>(st.takeovers));
    }
    m.set("process_resident_memory_bytes", {}, resident_bytes());
    m.set("rollbot_outbox_depth", {}, static_cast<double>(flow_->outbox_depth()));
    m.set("rollbot_runs_active", {}, static_cast<double>(flow_->running()));
    m.set("rollbot_approvals_pending", {}, static_cast<double>(flow_->pending_approvals()));
    if (chat_.slack) {
        chat_.slack->export_metrics(m);
    }
}

}  // namespace rollbot::daemon
