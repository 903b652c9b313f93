// The approval desk after a restart: the stored open approvals come back with their locks and
// expiry; a card that was never posted is posted now, and one approved before the restart runs.
#include "bot/flow/approval_desk.hpp"

namespace rollbot::core {

namespace asio = boost::asio;

asio::awaitable<void> ApprovalDesk::restore_one(StoredApproval stored) {
    const RequestId id = stored.request.id;
    auto parsed = parse_command(stored.request.command_text);
    const ApprovalPolicy* policy = parsed && parsed->rollback
                                       ? deps_.settings.approval_for(parsed->rollback->action)
                                       : nullptr;
    if (policy == nullptr) {
        deps_.log->warn("approval.not_restored id={} (its command or policy is gone)", id);
        stored.approval.state = ApprovalState::Cancelled;
        if (auto saved = co_await deps_.store.save_approval(stored); !saved) {
            deps_.log->error("state.approval_not_saved id={} error={}", id, saved.error().message);
            count(deps_.metrics, "rollbot_state_write_errors_total", {"approval"});
        }
        const AuditEntry record{
            AuditKind::Approval, id, {}, "state=cancelled why=\"not restorable after restart\""};
        co_await deps_.audit.record(record);
        co_return;
    }
    const LockHolder holder{
        id, describe(*parsed->rollback), stored.request.requester, stored.request.received_at};
    if (auto busy = deps_.locks.try_acquire(lock_targets(parsed->rollback->action), holder)) {
        deps_.log->error("approval.lock_conflict id={} holder={}", id, busy->holder.id);
    }
    open_.emplace(id,
                  std::make_shared<OpenApproval>(Approval{stored.approval, *policy},
                                                 stored.request,
                                                 *parsed->rollback,
                                                 parsed->reason,
                                                 stored.card_text,
                                                 deps_.clock.steady_now(),
                                                 deps_.tasks,
                                                 deps_.clock));
    const AuditEntry record{AuditKind::Approval, id, {}, "state=restored"};
    co_await deps_.audit.record(record);
}

asio::awaitable<std::optional<std::size_t>> ApprovalDesk::restore() {
    constexpr std::string_view kStillWaiting = "rollbot restarted; this request is still waiting.";
    auto stored = co_await deps_.store.open_approvals();
    if (!stored) {
        deps_.log->error("state.restore_failed error={}", stored.error().message);
        co_return std::nullopt;
    }
    for (auto& approval : *stored) {
        co_await restore_one(std::move(approval));
    }
    std::vector<ApprovalHandle> handles;
    for (const auto& [id, open] : open_) {
        handles.push_back(open);
    }
    for (const auto& handle : handles) {
        auto decision = handle->approval.expire_if_due(deps_.clock.now());
        if (decision.changed) {
            co_await decided(handle, std::move(decision));
            continue;
        }
        arm_expiry(handle);
        if (!handle->approval.snapshot().card) {  // died before its card was posted
            auto card = co_await post_card(handle, std::string(kStillWaiting));
            if (!card) {
                deps_.log->warn("approval.card_not_posted id={} error={}",
                                handle->request.id,
                                card.error().message);
            }
        } else {
            co_await refresh_card(handle, std::string(kStillWaiting));
        }
        if (!handle->closed && handle->approval.state() == ApprovalState::Approved) {
            deps_.tasks.spawn("approval.run", run_approved(handle));
        }
    }
    co_return open_.size();
}

}  // namespace rollbot::core
