#pragma once

// SqlitePort: the SQLite store behind the awaitable core::StateStore port. Each call runs to the
// end before it returns (a local file, short statements), so the awaitable never suspends.

#include "bot/ports/state_store.hpp"
#include "bot/store/sqlite_store.hpp"

namespace rollbot::store {

class SqlitePort final : public core::StateStore {
public:
    explicit SqlitePort(SqliteStore& store) : store_(store) {}

    Await<core::Result<core::RequestId>> next_request_id() override;
    core::Result<void> check_writable() override;
    Await<core::Result<void>> save_approval(core::StoredApproval approval) override;
    Await<core::Result<std::vector<core::StoredApproval>>> open_approvals() override;
    Await<core::Result<std::optional<core::StoredApproval>>> find_approval(
        core::RequestId id) override;
    Await<core::Result<void>> run_started(core::StoredRun run) override;
    Await<core::Result<void>> step_finished(core::RequestId id, core::StoredStep step) override;
    Await<core::Result<void>> run_finished(core::RequestId id,
                                           core::RunState state,
                                           core::WallTime at) override;
    Await<core::Result<std::vector<core::StoredRun>>> interrupt_running(core::WallTime at) override;
    Await<core::Result<std::optional<core::StoredRun>>> find_run(core::RequestId id) override;
    Await<core::Result<std::vector<core::StoredRun>>> recent_runs(int limit) override;
    Await<core::Result<std::int64_t>> outbox_add(core::OutboxEntry entry) override;
    Await<core::Result<std::vector<core::OutboxEntry>>> outbox_pending() override;
    Await<core::Result<void>> outbox_delivered(std::int64_t seq, core::MessageTs ts) override;
    Await<core::Result<void>> outbox_failed(std::int64_t seq) override;
    Await<core::Result<std::optional<core::MessageTs>>> outbox_ts(std::int64_t seq) override;
    Await<core::Result<bool>> first_time(std::string key,
                                         core::WallTime now,
                                         core::Duration window) override;
    Await<core::Result<void>> audit(core::AuditEntry entry, core::WallTime at) override;
    Await<core::Result<std::vector<core::AuditRecord>>> audit_log(
        std::optional<core::RequestId> request) override;
    Await<core::Result<core::AuditCheck>> verify_audit() override;

private:
    SqliteStore& store_;
};

}  // namespace rollbot::store
