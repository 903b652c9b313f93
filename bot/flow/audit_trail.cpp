#include "bot/flow/audit_trail.hpp"

namespace rollbot::core {

AuditTrail::AuditTrail(StateStore& store,
                       const Clock& clock,
                       std::shared_ptr<spdlog::logger> audit_log,
                       std::shared_ptr<spdlog::logger> log,
                       Metrics* metrics)
    : store_(store),
      clock_(clock),
      audit_log_(std::move(audit_log)),
      log_(std::move(log)),
      metrics_(metrics) {}

boost::asio::awaitable<bool> AuditTrail::record(AuditEntry entry) {
    const std::string_view actor =
        entry.actor.empty() ? std::string_view("rollbot") : std::string_view(entry.actor.value);
    audit_log_->info(
        "{} id={} actor={} {}", to_string(entry.kind), entry.request, actor, entry.detail);
    auto written = co_await store_.audit(entry, clock_.now());  // a copy: the log line needs it
    if (!written) {
        log_->error("audit.write_failed id={} kind={} error={}",
                    entry.request,
                    to_string(entry.kind),
                    written.error().message);
        count(metrics_, "rollbot_state_write_errors_total", {"audit"});
        co_return false;
    }
    co_return true;
}

}  // namespace rollbot::core
