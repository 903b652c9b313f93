#pragma once

#include "bot/records.hpp"
#include "bot/result.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace rollbot::core {

/// Durable state (design §5): requests and approvals, runs and steps, the outbox, de-duplication
/// keys and the audit trail. SQLite in production (bot/store/); every call is short and runs on
/// the io thread. A failed write is an error the caller must report, never ignored.
class StateStore {
public:
    virtual ~StateStore() = default;

    /// A request number unique across restarts: R1, R2, …
    virtual Result<RequestId> next_request_id() = 0;
    /// One small real write (a probe counter): /readyz is ready only while state can be saved.
    virtual Result<void> check_writable() = 0;

    /// Inserts or replaces the approval of a request (every transition saves it).
    virtual Result<void> save_approval(const StoredApproval& approval) = 0;
    /// Approvals still Pending or Approved, oldest first (restored after a restart).
    virtual Result<std::vector<StoredApproval>> open_approvals() = 0;
    /// The approval of one request, whatever its state.
    virtual Result<std::optional<StoredApproval>> find_approval(const RequestId& id) = 0;

    virtual Result<void> run_started(const StoredRun& run) = 0;
    virtual Result<void> step_finished(const RequestId& id, const StoredStep& step) = 0;
    virtual Result<void> run_finished(const RequestId& id, RunState state, WallTime at) = 0;
    /// Marks every run still "running" as "interrupted" (the daemon died during it) and
    /// returns them; called once at start-up, before anything else runs.
    virtual Result<std::vector<StoredRun>> interrupt_running(WallTime at) = 0;
    virtual Result<std::optional<StoredRun>> find_run(const RequestId& id) = 0;
    /// The most recent runs, newest first.
    virtual Result<std::vector<StoredRun>> recent_runs(int limit) = 0;

    /// Stores a message to deliver; returns its seq.
    virtual Result<std::int64_t> outbox_add(const OutboxEntry& entry) = 0;
    /// Undelivered entries in seq order.
    virtual Result<std::vector<OutboxEntry>> outbox_pending() = 0;
    /// The entry was delivered and landed at `ts`.
    virtual Result<void> outbox_delivered(std::int64_t seq, const MessageTs& ts) = 0;
    /// A delivery attempt failed (counted); the entry stays pending.
    virtual Result<void> outbox_failed(std::int64_t seq) = 0;
    /// The ts an entry landed at, once delivered.
    virtual Result<std::optional<MessageTs>> outbox_ts(std::int64_t seq) = 0;

    /// True the first time `key` is seen within `window` (remembered across restarts).
    virtual Result<bool> first_time(const std::string& key, WallTime now, Duration window) = 0;

    /// Appends a record to the audit chain.
    virtual Result<void> audit(const AuditEntry& entry, WallTime at) = 0;
    /// The records of one request (or all of them, when `request` is nullopt), in order.
    virtual Result<std::vector<AuditRecord>> audit_log(const std::optional<RequestId>& request) = 0;
    /// Walks the whole chain and recomputes every hash.
    virtual Result<AuditCheck> verify_audit() = 0;
};

}  // namespace rollbot::core
