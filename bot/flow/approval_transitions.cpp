// The approval desk's transitions: a reaction counted or not, a decision saved, audited and
// shown, and the approving transition: the plan checked again (time-of-check), then the run,
// or a new card when the plan changed meanwhile.
#include "bot/flow/approval_desk.hpp"
#include "bot/text.hpp"

#include <fmt/format.h>

namespace rollbot::core {
namespace {

namespace asio = boost::asio;

bool is_closed(ApprovalState state) {
    return state != ApprovalState::Pending && state != ApprovalState::Approved;
}

std::string decision_detail(const ApprovalDecision& d, ApprovalState state) {
    return fmt::format("rule={} state={} changed={} why={}",
                       to_string(d.rule),
                       to_string(state),
                       d.changed,
                       log_quote(d.explanation));
}

}  // namespace

asio::awaitable<void> ApprovalDesk::on_reaction(ReactionEvent event) {
    if (!event.event_id.empty()) {
        std::string key = "event:" + event.event_id + (event.added ? ":added" : ":removed");
        const Duration keep = std::chrono::hours(1);
        auto first = co_await deps_.store.first_time(std::move(key), deps_.clock.now(), keep);
        if (first && !*first) {
            deps_.log->debug("reaction.duplicate event_id={}", event.event_id);
            co_return;
        }
    }
    const ApprovalHandle handle = find_card(event.item);
    if (!handle) {
        deps_.log->debug(
            "reaction.ignored user={} reaction={} ts={} (not on an open approval card)",
            event.user,
            event.reaction,
            event.item.ts);
        co_return;
    }
    const RequestId id = handle->approval.snapshot().id;
    const ApprovalPolicy policy = handle->approval.policy();
    auto reactor = co_await reactor_for(event.user, policy);
    if (handle->closed) {
        co_return;
    }
    if (!reactor) {
        const AuditEntry record{AuditKind::Reaction,
                                id,
                                event.user,
                                fmt::format("reaction={} added={} rule=lookup_failed error={}",
                                            event.reaction,
                                            event.added,
                                            log_quote(reactor.error().message))};
        co_await deps_.audit.record(record);
        co_return;
    }
    auto decision = handle->approval.on_reaction(event, *reactor, deps_.clock.now());
    const AuditEntry record{AuditKind::Reaction,
                            id,
                            event.user,
                            fmt::format("reaction={} added={} {}",
                                        event.reaction,
                                        event.added,
                                        decision_detail(decision, handle->approval.state()))};
    co_await deps_.audit.record(record);
    const auto base = base_reaction(event.reaction);
    const bool approve_or_reject =
        base == policy.approve_reaction || base == policy.reject_reaction;
    if (!decision.changed && event.added && approve_or_reject &&
        decision.rule != ApprovalRule::AlreadyCounted) {
        const ReplyTarget to{event.item.channel, event.user, Secret{}};
        co_await deps_.chat.reply(
            to, "Your reaction on " + id.value + " did not count: " + decision.explanation);
    }
    if (decision.changed) {
        co_await decided(handle, std::move(decision));
    }
}

asio::awaitable<void> ApprovalDesk::decided(ApprovalHandle handle, ApprovalDecision decision) {
    if (handle->closed) {
        co_return;
    }
    const ApprovalState state = handle->approval.state();
    co_await save(handle);
    const AuditEntry record{AuditKind::Approval,
                            handle->approval.snapshot().id,
                            handle->approval.snapshot().decided_by.value_or(UserId{}),
                            decision_detail(decision, state)};
    co_await deps_.audit.record(record);
    co_await refresh_card(handle, decision.explanation);
    if (state == ApprovalState::Approved && decision.rule == ApprovalRule::Approved) {
        co_await run_approved(handle);  // the approving transition only
    } else if (is_closed(state)) {
        close(handle);
    }
}

asio::awaitable<void> ApprovalDesk::run_approved(ApprovalHandle handle) {
    if (handle->closed) {
        co_return;
    }
    const RequestId id = handle->approval.snapshot().id;
    auto plan = co_await deps_.plans.resolve(handle->rollback, id);
    if (handle->closed || handle->approval.state() != ApprovalState::Approved) {
        co_return;  // cancelled or withdrawn while the plan was being checked
    }
    if (!plan || plan->id != handle->approval.snapshot().plan_id) {
        co_await supersede(handle, std::move(plan));
        co_return;
    }
    handle->approval.start_execution();
    if (auto saved = co_await save(handle); !saved) {
        // Without a durable record, a restart could not tell that this ran: do not run it.
        co_await refresh_card(handle,
                              "rollbot could not record the approval, so it did not run: " +
                                  templates::escape_mrkdwn(saved.error().message));
        close(handle);
        co_return;
    }
    const AuditEntry record{AuditKind::Approval, id, {}, "state=executing plan=" + plan->id};
    co_await deps_.audit.record(record);
    co_await refresh_card(handle, "Approved: running now. Progress is on the run's message.");
    RunStart start{id,
                   handle->request.requester,
                   handle->reason,
                   handle->request.received_at,
                   handle->received,
                   std::move(*plan)};
    close(handle, true);
    co_await deps_.runs.start(std::move(start));
}

asio::awaitable<void> ApprovalDesk::supersede(ApprovalHandle handle, Result<Plan> plan) {
    const RequestId id = handle->approval.snapshot().id;
    const std::string shown = handle->approval.snapshot().plan_id;
    auto decision = handle->approval.supersede(plan ? plan->id : std::string("unreadable"));
    co_await save(handle);
    std::string why = plan ? fmt::format(
                                 "the plan changed between approval and execution (plan {} is "
                                 "now {}): nothing ran; a new card asks again",
                                 shown,
                                 plan->id)
                           : "rollbot could not check the plan again before running it: " +
                                 templates::escape_mrkdwn(plan.error().message) + ". Nothing ran.";
    const AuditEntry superseded_record{
        AuditKind::Approval,
        id,
        {},
        fmt::format("rule={} state=superseded why={}", to_string(decision.rule), log_quote(why))};
    co_await deps_.audit.record(superseded_record);
    co_await refresh_card(handle, why);
    if (!plan || handle->closed) {
        close(handle);
        co_return;
    }
    handle->expiry.cancel();
    const ApprovalPolicy policy = handle->approval.policy();
    const UserId requester = handle->request.requester;
    Approval superseded = handle->approval;
    std::string shown_body = handle->body;
    handle->approval =
        Approval{id, handle->rollback.action, policy, requester, plan->id, deps_.clock.now()};
    handle->body = deps_.reporter.approval_body(id, requester, handle->reason, *plan, policy);
    auto card = co_await post_card(handle, {});
    if (!card && !handle->closed) {
        // The old card promised a new one: say on it that none came, and close it as superseded.
        handle->approval = std::move(superseded);
        handle->body = std::move(shown_body);
        const std::string error = card.error().message;
        const AuditEntry record{
            AuditKind::Approval,
            id,
            {},
            "state=superseded why=" + log_quote("new card not posted: " + error)};
        co_await deps_.audit.record(record);
        co_await refresh_card(
            handle,
            fmt::format("the plan changed between approval and execution (plan {} is now {}) "
                        "and rollbot could not post the new card: {}. Nothing ran; ask again "
                        "with /rollback.",
                        shown,
                        plan->id,
                        templates::escape_mrkdwn(error)));
    }
    if (!card || handle->closed) {
        close(handle);
        co_return;
    }
    const AuditEntry pending_record{
        AuditKind::Approval,
        id,
        {},
        fmt::format("state=pending plan={} card={}", plan->id, card->ts)};
    co_await deps_.audit.record(pending_record);
    arm_expiry(handle);
}

}  // namespace rollbot::core
