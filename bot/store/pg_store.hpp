#pragma once

// PgStore: core::StateStore in PostgreSQL, for deployments of several replicas (state.url).
// The same records and the same properties as SqliteStore (sqlite_store.hpp): request numbers
// never handed out twice, each approval saved whole in one transaction, the outbox in seq order,
// de-duplication keys within a window, and the SHA-256 audit chain (audit_chain.hpp), appended
// under a row lock on its head so two writers cannot fork it. Append-only is enforced by the
// database: triggers refuse UPDATE, DELETE and TRUNCATE of the audit table.
//
// The schema version is in rollbot_schema(version); the daemon migrates it at open, under an
// advisory lock so replicas starting together migrate once (pg_schema.cpp); v2 adds the
// leader lease (pg_lease.hpp). Times are epoch
// milliseconds (BIGINT), as in SQLite, so records copy across unchanged.

#include "bot/ports/state_store.hpp"
#include "bot/store/pg_connection.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <memory>
#include <string>

namespace rollbot::store {

/// The schema version this build writes; a database at a newer version is refused.
inline constexpr int kPgSchemaVersion = 2;

class PgStore final : public core::StateStore {
public:
    /// Connects to `url` (a libpq URI or conninfo; the password comes from libpq's environment
    /// or files, and nothing of the URL reaches an error message) and migrates the schema.
    [[nodiscard]] static Await<core::Result<std::unique_ptr<PgStore>>> open(
        boost::asio::any_io_executor executor, std::string url, pg::Options options);
    /// The store without connecting yet (a daemon that starts while the database is down):
    /// prepare() connects and migrates, each call connects again when the connection broke.
    PgStore(boost::asio::any_io_executor executor, std::string url, pg::Options options)
        : db_(std::make_unique<pg::Connection>(std::move(executor), std::move(url), options)) {}
    /// Connects and brings the schema to kPgSchemaVersion.
    [[nodiscard]] Await<core::Result<void>> prepare();

    Await<core::Result<core::RequestId>> next_request_id() override;
    /// From the connection's state, without a round trip: broken or never connected is an error.
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

    /// Replicated mode: from now on each write runs in a transaction that first checks, under a
    /// share lock on the lease row, that `term` is still the current term; a deposed leader's
    /// write fails (Conflict) and changes nothing. 0 turns the check off (tools that never lead).
    void fence(std::int64_t term) { fence_term_ = term; }
    [[nodiscard]] std::int64_t fenced_term() const { return fence_term_; }
    /// Proves in a transaction of its own that the fenced term is still current (Conflict when
    /// not): before a step is started and before a message is posted.
    [[nodiscard]] Await<core::Result<void>> confirm_term();

    /// The connection, for the lease and for tests.
    [[nodiscard]] pg::Connection& connection() { return *db_; }

private:
    /// A session inside a write transaction, fenced when a term is set.
    Await<core::Result<pg::Session>> begin_write(std::string_view op);
    /// One INSERT/UPDATE in a write transaction of its own; `missing` when it changed no row.
    Await<core::Result<void>> change_one(std::string_view op,
                                         std::string sql,
                                         std::vector<pg::Param> params,
                                         core::Error missing);

    std::unique_ptr<pg::Connection> db_;
    std::int64_t fence_term_ = 0;
};

/// Brings the schema of the database behind `db` to kPgSchemaVersion (pg_schema.cpp).
[[nodiscard]] boost::asio::awaitable<core::Result<void>> migrate_pg_schema(pg::Connection& db);

}  // namespace rollbot::store
