#include "bot/store/sqlite_port.hpp"

namespace rollbot::store {

core::StateStore::Await<core::Result<core::RequestId>> SqlitePort::next_request_id() {
    co_return store_.next_request_id();
}

core::Result<void> SqlitePort::check_writable() {
    return store_.check_writable();
}

core::StateStore::Await<core::Result<void>> SqlitePort::save_approval(
    core::StoredApproval approval) {
    co_return store_.save_approval(approval);
}

core::StateStore::Await<core::Result<std::vector<core::StoredApproval>>>
SqlitePort::open_approvals() {
    co_return store_.open_approvals();
}

core::StateStore::Await<core::Result<std::optional<core::StoredApproval>>>
SqlitePort::find_approval(core::RequestId id) {
    co_return store_.find_approval(id);
}

core::StateStore::Await<core::Result<void>> SqlitePort::run_started(core::StoredRun run) {
    co_return store_.run_started(run);
}

core::StateStore::Await<core::Result<void>> SqlitePort::step_finished(core::RequestId id,
                                                                      core::StoredStep step) {
    co_return store_.step_finished(id, step);
}

core::StateStore::Await<core::Result<void>> SqlitePort::run_finished(core::RequestId id,
                                                                     core::RunState state,
                                                                     core::WallTime at) {
    co_return store_.run_finished(id, state, at);
}

core::StateStore::Await<core::Result<std::vector<core::StoredRun>>> SqlitePort::interrupt_running(
    core::WallTime at) {
    co_return store_.interrupt_running(at);
}

core::StateStore::Await<core::Result<std::optional<core::StoredRun>>> SqlitePort::find_run(
    core::RequestId id) {
    co_return store_.find_run(id);
}

core::StateStore::Await<core::Result<std::vector<core::StoredRun>>> SqlitePort::recent_runs(
    int limit) {
    co_return store_.recent_runs(limit);
}

core::StateStore::Await<core::Result<std::int64_t>> SqlitePort::outbox_add(
    core::OutboxEntry entry) {
    co_return store_.outbox_add(entry);
}

core::StateStore::Await<core::Result<std::vector<core::OutboxEntry>>> SqlitePort::outbox_pending() {
    co_return store_.outbox_pending();
}

core::StateStore::Await<core::Result<void>> SqlitePort::outbox_delivered(std::int64_t seq,
                                                                         core::MessageTs ts) {
    co_return store_.outbox_delivered(seq, ts);
}

core::StateStore::Await<core::Result<void>> SqlitePort::outbox_failed(std::int64_t seq) {
    co_return store_.outbox_failed(seq);
}

core::StateStore::Await<core::Result<std::optional<core::MessageTs>>> SqlitePort::outbox_ts(
    std::int64_t seq) {
    co_return store_.outbox_ts(seq);
}

core::StateStore::Await<core::Result<bool>> SqlitePort::first_time(std::string key,
                                                                   core::WallTime now,
                                                                   core::Duration window) {
    co_return store_.first_time(key, now, window);
}

core::StateStore::Await<core::Result<void>> SqlitePort::audit(core::AuditEntry entry,
                                                              core::WallTime at) {
    co_return store_.audit(entry, at);
}

core::StateStore::Await<core::Result<std::vector<core::AuditRecord>>> SqlitePort::audit_log(
    std::optional<core::RequestId> request) {
    co_return store_.audit_log(request);
}

core::StateStore::Await<core::Result<core::AuditCheck>> SqlitePort::verify_audit() {
    co_return store_.verify_audit();
}
}  // namespace rollbot::store
