#include "test/support/failing_store.hpp"

namespace rollbot::test {

bool FailingStore::refuses(const std::string& operation) {
    if (auto hook = hooks_.find(operation); hook != hooks_.end()) {
        hook->second();
    }
    if (!failing_.contains(operation)) {
        return false;
    }
    ++refused_;
    return true;
}

core::Error FailingStore::disk_error(const std::string& operation) {
    return core::Error{core::ErrorKind::Storage, "state." + operation + ": disk I/O error"};
}

core::StateStore::Await<core::Result<core::RequestId>> FailingStore::next_request_id() {
    if (refuses("next_request_id")) {
        co_return disk_error("next_request_id");
    }
    co_return co_await inner_.next_request_id();
}

core::Result<void> FailingStore::check_writable() {
    if (refuses("check_writable")) {
        return disk_error("check_writable");
    }
    return inner_.check_writable();
}

core::StateStore::Await<core::Result<void>> FailingStore::save_approval(
    core::StoredApproval approval) {
    if (refuses("save_approval")) {
        co_return disk_error("save_approval");
    }
    co_return co_await inner_.save_approval(std::move(approval));
}

core::StateStore::Await<core::Result<std::vector<core::StoredApproval>>>
FailingStore::open_approvals() {
    if (refuses("open_approvals")) {
        co_return disk_error("open_approvals");
    }
    co_return co_await inner_.open_approvals();
}

core::StateStore::Await<core::Result<std::optional<core::StoredApproval>>>
FailingStore::find_approval(core::RequestId id) {
    if (refuses("find_approval")) {
        co_return disk_error("find_approval");
    }
    co_return co_await inner_.find_approval(std::move(id));
}

core::StateStore::Await<core::Result<void>> FailingStore::run_started(core::StoredRun run) {
    if (refuses("run_started")) {
        co_return disk_error("run_started");
    }
    co_return co_await inner_.run_started(std::move(run));
}

core::StateStore::Await<core::Result<void>> FailingStore::step_finished(core::RequestId id,
                                                                        core::StoredStep step) {
    if (refuses("step_finished")) {
        co_return disk_error("step_finished");
    }
    co_return co_await inner_.step_finished(std::move(id), std::move(step));
}

core::StateStore::Await<core::Result<void>> FailingStore::run_finished(core::RequestId id,
                                                                       core::RunState state,
                                                                       core::WallTime at) {
    if (refuses("run_finished")) {
        co_return disk_error("run_finished");
    }
    co_return co_await inner_.run_finished(std::move(id), state, at);
}

core::StateStore::Await<core::Result<std::vector<core::StoredRun>>> FailingStore::interrupt_running(
    core::WallTime at) {
    if (refuses("interrupt_running")) {
        co_return disk_error("interrupt_running");
    }
    co_return co_await inner_.interrupt_running(at);
}

core::StateStore::Await<core::Result<std::optional<core::StoredRun>>> FailingStore::find_run(
    core::RequestId id) {
    if (refuses("find_run")) {
        co_return disk_error("find_run");
    }
    co_return co_await inner_.find_run(std::move(id));
}

core::StateStore::Await<core::Result<std::vector<core::StoredRun>>> FailingStore::recent_runs(
    int limit) {
    if (refuses("recent_runs")) {
        co_return disk_error("recent_runs");
    }
    co_return co_await inner_.recent_runs(limit);
}

core::StateStore::Await<core::Result<std::int64_t>> FailingStore::outbox_add(
    core::OutboxEntry entry) {
    if (refuses("outbox_add")) {
        co_return disk_error("outbox_add");
    }
    co_return co_await inner_.outbox_add(std::move(entry));
}

core::StateStore::Await<core::Result<std::vector<core::OutboxEntry>>>
FailingStore::outbox_pending() {
    if (refuses("outbox_pending")) {
        co_return disk_error("outbox_pending");
    }
    co_return co_await inner_.outbox_pending();
}

core::StateStore::Await<core::Result<void>> FailingStore::outbox_delivered(std::int64_t seq,
                                                                           core::MessageTs ts) {
    if (refuses("outbox_delivered")) {
        co_return disk_error("outbox_delivered");
    }
    co_return co_await inner_.outbox_delivered(seq, std::move(ts));
}

core::StateStore::Await<core::Result<void>> FailingStore::outbox_failed(std::int64_t seq) {
    if (refuses("outbox_failed")) {
        co_return disk_error("outbox_failed");
    }
    co_return co_await inner_.outbox_failed(seq);
}

core::StateStore::Await<core::Result<std::optional<core::MessageTs>>> FailingStore::outbox_ts(
    std::int64_t seq) {
    if (refuses("outbox_ts")) {
        co_return disk_error("outbox_ts");
    }
    co_return co_await inner_.outbox_ts(seq);
}

core::StateStore::Await<core::Result<bool>> FailingStore::first_time(std::string key,
                                                                     core::WallTime now,
                                                                     core::Duration window) {
    if (refuses("first_time")) {
        co_return disk_error("first_time");
    }
    co_return co_await inner_.first_time(std::move(key), now, window);
}

core::StateStore::Await<core::Result<void>> FailingStore::audit(core::AuditEntry entry,
                                                                core::WallTime at) {
    if (refuses("audit")) {
        co_return disk_error("audit");
    }
    co_return co_await inner_.audit(std::move(entry), at);
}

core::StateStore::Await<core::Result<std::vector<core::AuditRecord>>> FailingStore::audit_log(
    std::optional<core::RequestId> request) {
    if (refuses("audit_log")) {
        co_return disk_error("audit_log");
    }
    co_return co_await inner_.audit_log(std::move(request));
}

core::StateStore::Await<core::Result<core::AuditCheck>> FailingStore::verify_audit() {
    if (refuses("verify_audit")) {
        co_return disk_error("verify_audit");
    }
    co_return co_await inner_.verify_audit();
}

}  // namespace rollbot::test
