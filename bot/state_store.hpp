#pragma once

#include "bot/approval.hpp"
#include "bot/chat.hpp"
#include "bot/ids.hpp"
#include "bot/result.hpp"
#include "bot/settings.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace rollbot::core {

using WallTime = std::chrono::system_clock::time_point;

/// A rollback request as typed, enough to rebuild it after a restart.
struct StoredRequest {
    RequestId id;
    UserId requester;
    ChannelId channel;
    std::string command_text;  // the text after `/rollback`, parsed again on restore
    WallTime received_at;
    bool operator==(const StoredRequest&) const = default;
};

/// An approval with the request it guards and the card text it showed.
struct StoredApproval {
    StoredRequest request;
    ApprovalSnapshot approval;
    std::string card_text;  // the plan part of the card, to re-render transitions without kubectl
    bool operator==(const StoredApproval&) const = default;
};

/// One executed step, as the audit trail and `/rollback log` show it.
struct StoredStep {
    int n = 0;            // 1-based
    std::string command;  // display_command(step)
    std::string outcome;  // to_string(StepOutcome)
    std::optional<int> exit_code;
    Duration duration{};
    std::string digest;  // SHA-256 of the output
    bool operator==(const StoredStep&) const = default;
};

/// A run: an executing (or finished) rollback.
struct StoredRun {
    RequestId id;
    UserId requester;
    std::string what;   // describe(request)
    std::string state;  // "running", then to_string(RunState) or "interrupted"
    WallTime started;
    std::optional<WallTime> finished;
    std::optional<MessageRef> card;
    std::vector<StoredStep> steps;
    bool operator==(const StoredRun&) const = default;
};

/// A message the bot must deliver. Stored before it is sent; retried until Slack accepts it.
struct OutboxEntry {
    enum class Kind { Post, Update };
    std::int64_t seq = 0;  // assigned by the store; delivery is in seq order
    Kind kind = Kind::Post;
    ChannelId channel;
    /// Post: reply in this thread. Either a known ts, or the entry whose message is the parent
    /// (its ts is known once that entry was sent).
    std::optional<MessageTs> thread_ts;
    std::optional<std::int64_t> thread_seq;
    /// Update: the message to edit, known or another entry.
    std::optional<MessageTs> target_ts;
    std::optional<std::int64_t> target_seq;
    std::string text;
    std::string key;  // what it is, for logs: "R3/report"
    int attempts = 0;
    std::optional<MessageTs> sent_ts;  // set once delivered
    bool operator==(const OutboxEntry&) const = default;
};

/// One record of the tamper-evident audit trail.
struct AuditRecord {
    std::int64_t seq = 0;
    WallTime at;
    std::string kind;  // "request", "reaction", "approval", "step", "report", …
    std::string request_id;
    std::string actor;   // user id, or "rollbot"
    std::string detail;  // one line, key=value
    std::string prev_hash;
    std::string hash;  // hex SHA-256 over prev_hash and the record's fields
    bool operator==(const AuditRecord&) const = default;
};

/// Result of walking the audit chain.
struct AuditCheck {
    bool ok = true;
    std::int64_t records = 0;
    std::optional<std::int64_t> first_bad;  // seq of the first record that does not verify
    std::string problem;                    // what is wrong with it
    bool operator==(const AuditCheck&) const = default;
};

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
    virtual Result<void> run_finished(const RequestId& id, std::string state, WallTime at) = 0;
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
    virtual Result<void> audit(const std::string& kind,
                               const std::string& request_id,
                               const std::string& actor,
                               const std::string& detail,
                               WallTime at) = 0;
    /// The records of one request (or all, when `request_id` is empty), in order.
    virtual Result<std::vector<AuditRecord>> audit_log(const std::string& request_id) = 0;
    /// Walks the whole chain and recomputes every hash.
    virtual Result<AuditCheck> verify_audit() = 0;
};

}  // namespace rollbot::core
