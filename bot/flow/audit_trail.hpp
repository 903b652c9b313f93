#pragma once

#include "bot/metrics.hpp"
#include "bot/ports/clock.hpp"
#include "bot/ports/state_store.hpp"

#include <boost/asio/awaitable.hpp>
#include <spdlog/logger.h>

#include <memory>

namespace rollbot::core {

/// The audit trail: every request, decision and execution, appended to the store's hash chain
/// and written to the `audit` log. A record that cannot be stored is logged and counted
/// (`rollbot_state_write_errors_total{what="audit"}`); the log line is written either way.
class AuditTrail {
public:
    AuditTrail(StateStore& store,
               const Clock& clock,
               std::shared_ptr<spdlog::logger> audit_log,
               std::shared_ptr<spdlog::logger> log,
               Metrics* metrics);

    /// Appends one record; false when the store could not keep it. Pass a named entry, not a
    /// braced temporary (GCC 12, deploy/lint/coroutine_args.py).
    boost::asio::awaitable<bool> record(AuditEntry entry);

    /// The `audit` log alone, for what is not part of a request's trail (commands as typed,
    /// refusals, advice).
    [[nodiscard]] spdlog::logger& log() const { return *audit_log_; }

private:
    StateStore& store_;
    const Clock& clock_;
    std::shared_ptr<spdlog::logger> audit_log_;
    std::shared_ptr<spdlog::logger> log_;
    Metrics* metrics_;
};

}  // namespace rollbot::core
