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

core::Result<core::RequestId> FailingStore::next_request_id() {
    if (refuses("next_request_id")) {
        return disk_error("next_request_id");
    }
    return inner_.next_request_id();
}

core::Result<void> FailingStore::check_writable() {
    if (refuses("check_writable")) {
        return disk_error("check_writable");
    }
    return inner_.check_writable();
}

core::Result<void> FailingStore::save_approval(const core::StoredApproval& approval) {
    if (refuses("save_approval")) {
        return disk_error("save_approval");
    }
    return inner_.save_approval(approval);
}

core::Result<std::vector<core::StoredApproval>> FailingStore::open_approvals() {
    if (refuses("open_approvals")) {
        return disk_error("open_approvals");
    }
    return inner_.open_approvals();
}

core::Result<std::optional<core::StoredApproval>> FailingStore::find_approval(
    const core::RequestId& id) {
    if (refuses("find_approval")) {
        return disk_error("find_approval");
    }
    return inner_.find_approval(id);
}

core::Result<void> FailingStore::run_started(const core::StoredRun& run) {
    if (refuses("run_started")) {
        return disk_error("run_started");
    }
    return inner_.run_started(run);
}

core::Result<void> FailingStore::step_finished(const core::RequestId& id,
                                               const core::StoredStep& step) {
    if (refuses("step_finished")) {
        return disk_error("step_finished");
    }
    return inner_.step_finished(id, step);
}

core::Result<void> FailingStore::run_finished(const core::RequestId& id,
                                              core::RunState state,
                                              core::WallTime at) {
    if (refuses("run_finished")) {
        return disk_error("run_finished");
    }
    return inner_.run_finished(id, state, at);
}

core::Result<std::vector<core::StoredRun>> FailingStore::interrupt_running(core::WallTime at) {
    if (refuses("interrupt_running")) {
        return disk_error("interrupt_running");
    }
    return inner_.interrupt_running(at);
}

core::Result<std::optional<core::StoredRun>> FailingStore::find_run(const core::RequestId& id) {
    if (refuses("find_run")) {
        return disk_error("find_run");
    }
    return inner_.find_run(id);
}

core::Result<std::vector<core::StoredRun>> FailingStore::recent_runs(int limit) {
    if (refuses("recent_runs")) {
        return disk_error("recent_runs");
    }
    return inner_.recent_runs(limit);
}

core::Result<std::int64_t> FailingStore::outbox_add(const core::OutboxEntry& entry) {
    if (refuses("outbox_add")) {
        return disk_error("outbox_add");
    }
    return inner_.outbox_add(entry);
}

core::Result<std::vector<core::OutboxEntry>> FailingStore::outbox_pending() {
    if (refuses("outbox_pending")) {
        return disk_error("outbox_pending");
    }
    return inner_.outbox_pending();
}

core::Result<void> FailingStore::outbox_delivered(std::int64_t seq, const core::MessageTs& ts) {
    if (refuses("outbox_delivered")) {
        return disk_error("outbox_delivered");
    }
    return inner_.outbox_delivered(seq, ts);
}

core::Result<void> FailingStore::outbox_failed(std::int64_t seq) {
    if (refuses("outbox_failed")) {
        return disk_error("outbox_failed");
    }
    return inner_.outbox_failed(seq);
}

core::Result<std::optional<core::MessageTs>> FailingStore::outbox_ts(std::int64_t seq) {
    if (refuses("outbox_ts")) {
        return disk_error("outbox_ts");
    }
    return inner_.outbox_ts(seq);
}

core::Result<bool> FailingStore::first_time(const std::string& key,
                                            core::WallTime now,
                                            core::Duration window) {
    if (refuses("first_time")) {
        return disk_error("first_time");
    }
    return inner_.first_time(key, now, window);
}

core::Result<void> FailingStore::audit(const core::AuditEntry& entry, core::WallTime at) {
    if (refuses("audit")) {
        return disk_error("audit");
    }
    return inner_.audit(entry, at);
}

core::Result<std::vector<core::AuditRecord>> FailingStore::audit_log(
    const std::optional<core::RequestId>& request) {
    if (refuses("audit_log")) {
        return disk_error("audit_log");
    }
    return inner_.audit_log(request);
}

core::Result<core::AuditCheck> FailingStore::verify_audit() {
    if (refuses("verify_audit")) {
        return disk_error("verify_audit");
    }
    return inner_.verify_audit();
}

}  // namespace rollbot::test
