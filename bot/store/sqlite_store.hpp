#pragma once

// SqliteStore: core::StateStore in one SQLite file (WAL, synchronous=FULL, foreign keys on).
// Schema version in `PRAGMA user_version`, migrated in place at open (sqlite_schema.cpp).
// Times are integer epoch milliseconds (system_clock): they come back truncated to the ms.
//
// Tables (v1):
//   counters(name PK, value)                      "request" → last R number handed out
//   requests(id PK, requester, channel, command_text, received_at_ms)
//   approvals(request_id PK → requests, kind, requester, card_channel, card_ts, plan_id,
//             state = to_string(ApprovalState), created_ms, expires_ms, decided_by, card_text)
//     approval_users(request_id, user_id, counted, has_groups)   keys of approvals /
//     approval_reactions(request_id, user_id, reaction)          approver_groups, their
//     approval_groups(request_id, user_id, pos, group_id)        reactions and groups in order
//   runs(request_id PK, requester, what, state, started_ms, finished_ms, card_channel, card_ts)
//     steps(request_id → runs, n, command, outcome, exit_code, duration_ms, digest)
//   outbox(seq PK AUTOINCREMENT, kind 'post'|'update', channel, thread_ts, thread_seq → outbox,
//          target_ts, target_seq → outbox, text, key, attempts, sent_ts NULL while pending)
//   dedupe(key PK, seen_ms)                        pruned when older than the window
//   audit(seq PK 1.., at_ms, kind, request_id, actor, detail, prev_hash, hash)
//          append-only: triggers refuse UPDATE and DELETE
//   audit_head(id = 1, seq, hash)                  the last record, to notice a cut-off tail

#include "bot/ports/state_store.hpp"
#include "bot/store/db_handle.hpp"

#include <memory>
#include <string>
#include <utility>

namespace rollbot::store {

/// The state in SQLite, with synchronous calls (a local file, each call short). One connection,
/// used from one thread; several processes may open the same file (WAL), writes serialise on the
/// file lock. `SqlitePort` (sqlite_port.hpp) puts it behind the awaitable core::StateStore port;
/// `--verify-audit` and the store's own tests call it directly.
class SqliteStore final {
public:
    /// Opens or creates `path` (":memory:" for tests) and migrates its schema. Refuses, naming
    /// the path: a file that is not a database, read-only or unwritable, a newer schema.
    [[nodiscard]] static core::Result<std::unique_ptr<SqliteStore>> open(const std::string& path);

    [[nodiscard]] const std::string& path() const { return path_; }

    [[nodiscard]] core::Result<core::RequestId> next_request_id();
    /// Bumps counters("readiness_probe"): fails on a read-only or full disk like a save would.
    [[nodiscard]] core::Result<void> check_writable();

    [[nodiscard]] core::Result<void> save_approval(const core::StoredApproval& approval);
    [[nodiscard]] core::Result<std::vector<core::StoredApproval>> open_approvals();
    [[nodiscard]] core::Result<std::optional<core::StoredApproval>> find_approval(
        const core::RequestId& id);

    /// Fails with Conflict if a run of that request exists already.
    [[nodiscard]] core::Result<void> run_started(const core::StoredRun& run);
    /// NotFound for an unknown run, Conflict for a step number already recorded.
    [[nodiscard]] core::Result<void> step_finished(const core::RequestId& id,
                                                   const core::StoredStep& step);
    [[nodiscard]] core::Result<void> run_finished(const core::RequestId& id,
                                                  core::RunState state,
                                                  core::WallTime at);
    [[nodiscard]] core::Result<std::vector<core::StoredRun>> interrupt_running(core::WallTime at);
    [[nodiscard]] core::Result<std::optional<core::StoredRun>> find_run(const core::RequestId& id);
    [[nodiscard]] core::Result<std::vector<core::StoredRun>> recent_runs(int limit);

    /// `entry.seq`, `attempts` and `sent_ts` are ignored: a new entry is pending, untried.
    [[nodiscard]] core::Result<std::int64_t> outbox_add(const core::OutboxEntry& entry);
    [[nodiscard]] core::Result<std::vector<core::OutboxEntry>> outbox_pending();
    [[nodiscard]] core::Result<void> outbox_delivered(std::int64_t seq, const core::MessageTs& ts);
    [[nodiscard]] core::Result<void> outbox_failed(std::int64_t seq);
    /// NotFound for a seq that was never added.
    [[nodiscard]] core::Result<std::optional<core::MessageTs>> outbox_ts(std::int64_t seq);

    /// Also forgets every key older than `window` (one window for all keys: Slack's retries).
    [[nodiscard]] core::Result<bool> first_time(const std::string& key,
                                                core::WallTime now,
                                                core::Duration window);

    [[nodiscard]] core::Result<void> audit(const core::AuditEntry& entry, core::WallTime at);
    [[nodiscard]] core::Result<std::vector<core::AuditRecord>> audit_log(
        const std::optional<core::RequestId>& request);
    [[nodiscard]] core::Result<core::AuditCheck> verify_audit();

private:
    SqliteStore(DbHandle db, std::string path) : db_(std::move(db)), path_(std::move(path)) {}

    DbHandle db_;
    std::string path_;
};

}  // namespace rollbot::store
