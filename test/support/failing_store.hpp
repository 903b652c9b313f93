#pragma once

#include "bot/ports/state_store.hpp"

#include <functional>
#include <map>
#include <set>
#include <string>

namespace rollbot::test {

/// A state store that forwards to another and fails the operations the test names, as a full
/// or read-only disk would ("disk I/O error"), until told otherwise. Names are the store's
/// methods: "save_approval", "run_started", "step_finished", "run_finished", "audit",
/// "outbox_add", "outbox_delivered", "next_request_id", "check_writable", …
class FailingStore final : public core::StateStore {
public:
    explicit FailingStore(core::StateStore& inner) : inner_(inner) {}

    void fail(std::string operation) { failing_.insert(std::move(operation)); }
    void heal(const std::string& operation) { failing_.erase(operation); }
    void heal_all() { failing_.clear(); }
    /// Calls `hook` each time `operation` is called, before it is forwarded (or refused): for
    /// tests that look at the state at that moment.
    void before(std::string operation, std::function<void()> hook) {
        hooks_[std::move(operation)] = std::move(hook);
    }
    /// How many calls were refused.
    [[nodiscard]] int refused() const { return refused_; }

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
    [[nodiscard]] bool refuses(const std::string& operation);
    [[nodiscard]] static core::Error disk_error(const std::string& operation);

    core::StateStore& inner_;
    std::set<std::string> failing_;
    std::map<std::string, std::function<void()>> hooks_;
    int refused_ = 0;
};

}  // namespace rollbot::test
