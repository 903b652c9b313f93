#pragma once

#include "bot/records.hpp"
#include "bot/result.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace rollbot::core {

/// Durable state (design §5): requests and approvals, runs and steps, the outbox, de-duplication
/// keys and the audit trail. SQLite (bot/store/, one replica) or PostgreSQL (several). Every call
/// but `check_writable` is awaited: a store across the network suspends its caller for the round
/// trip, never the io thread, so a database's latency can never delay a Slack ack. A failed
/// write is an error the caller must report, never ignored.
class StateStore {
public:
    template <typename T>
    using Await = boost::asio::awaitable<T>;

    virtual ~StateStore() = default;

    /// A request number unique across restarts: R1, R2, …
    virtual Await<Result<RequestId>> next_request_id() = 0;
    /// Whether state can be saved now, for /readyz, without waiting on the network: SQLite makes
    /// one small real write (a probe counter, a local file); a remote store answers from its
    /// connection and its last round trip.
    virtual Result<void> check_writable() = 0;

    /// Inserts or replaces the approval of a request (every transition saves it).
    virtual Await<Result<void>> save_approval(StoredApproval approval) = 0;
    /// Approvals still Pending or Approved, oldest first (restored after a restart).
    virtual Await<Result<std::vector<StoredApproval>>> open_approvals() = 0;
    /// The approval of one request, whatever its state.
    virtual Await<Result<std::optional<StoredApproval>>> find_approval(RequestId id) = 0;

    virtual Await<Result<void>> run_started(StoredRun run) = 0;
    virtual Await<Result<void>> step_finished(RequestId id, StoredStep step) = 0;
    virtual Await<Result<void>> run_finished(RequestId id, RunState state, WallTime at) = 0;
    /// Marks every run still "running" as "interrupted" (the daemon died during it) and
    /// returns them; called once at start-up, before anything else runs.
    virtual Await<Result<std::vector<StoredRun>>> interrupt_running(WallTime at) = 0;
    virtual Await<Result<std::optional<StoredRun>>> find_run(RequestId id) = 0;
    /// The most recent runs, newest first.
    virtual Await<Result<std::vector<StoredRun>>> recent_runs(int limit) = 0;

    /// Stores a message to deliver; returns its seq.
    virtual Await<Result<std::int64_t>> outbox_add(OutboxEntry entry) = 0;
    /// Undelivered entries in seq order.
    virtual Await<Result<std::vector<OutboxEntry>>> outbox_pending() = 0;
    /// The entry was delivered and landed at `ts`.
    virtual Await<Result<void>> outbox_delivered(std::int64_t seq, MessageTs ts) = 0;
    /// A delivery attempt failed (counted); the entry stays pending.
    virtual Await<Result<void>> outbox_failed(std::int64_t seq) = 0;
    /// The ts an entry landed at, once delivered.
    virtual Await<Result<std::optional<MessageTs>>> outbox_ts(std::int64_t seq) = 0;

    /// True the first time `key` is seen within `window` (remembered across restarts).
    virtual Await<Result<bool>> first_time(std::string key, WallTime now, Duration window) = 0;

    /// Appends a record to the audit chain.
    virtual Await<Result<void>> audit(AuditEntry entry, WallTime at) = 0;
    /// The records of one request (or all of them, when `request` is nullopt), in order.
    virtual Await<Result<std::vector<AuditRecord>>> audit_log(std::optional<RequestId> request) = 0;
    /// Walks the whole chain and recomputes every hash.
    virtual Await<Result<AuditCheck>> verify_audit() = 0;
};

}  // namespace rollbot::core
