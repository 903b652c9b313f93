#include "bot/flow/coordinator.hpp"

#include "bot/text.hpp"

#include <fmt/format.h>

namespace rollbot::core {

namespace asio = boost::asio;

Coordinator::Coordinator(FlowDeps deps)
    : deps_(std::move(deps)),
      chat_(deps_.chat, deps_.log),
      audit_(deps_.store, deps_.clock, deps_.audit, deps_.log, deps_.metrics),
      outbox_(deps_.tasks, deps_.chat, deps_.store, deps_.clock, deps_.log),
      plans_(deps_.runbook, deps_.log),
      watch_(deps_.tasks,
             deps_.runbook,
             deps_.verifier,
             deps_.clock,
             deps_.settings,
             deps_.reporter,
             outbox_,
             audit_,
             deps_.log),
      executor_({deps_.settings,
                 chat_,
                 deps_.runbook,
                 plans_,
                 watch_,
                 outbox_,
                 audit_,
                 deps_.store,
                 locks_,
                 deps_.reporter,
                 deps_.clock,
                 deps_.log,
                 deps_.metrics}),
      desk_({deps_.settings,
             chat_,
             deps_.directory,
             plans_,
             executor_,
             audit_,
             deps_.store,
             locks_,
             deps_.reporter,
             deps_.clock,
             deps_.tasks,
             deps_.log,
             deps_.metrics}),
      reads_({deps_.settings,
              chat_,
              deps_.runbook,
              deps_.verifier,
              watch_,
              deps_.store,
              audit_,
              deps_.reporter,
              deps_.clock,
              [this] {
                  return active_requests();
              }}),
      router_({deps_.settings,
               chat_,
               deps_.directory,
               reads_,
               desk_,
               executor_,
               audit_,
               deps_.reporter,
               deps_.log,
               deps_.metrics,
               deps_.force_dry_run}) {}

void Coordinator::on_inbound(Inbound event) {
    if (stopping_) {
        deps_.log->info("inbound.dropped why=\"rollbot is stopping\"");
        return;
    }
    if (auto* cmd = std::get_if<SlashCommand>(&event)) {
        deps_.tasks.spawn("command", router_.handle(std::move(*cmd), deps_.clock.steady_now()));
        return;
    }
    deps_.tasks.spawn("reaction", desk_.on_reaction(std::move(std::get<ReactionEvent>(event))));
}

asio::awaitable<void> Coordinator::wait_idle() {
    co_await deps_.tasks.wait_idle();
}

asio::awaitable<void> Coordinator::restore() {
    co_await outbox_.start();  // reports an earlier run of the daemon could not deliver go first
    const std::size_t interrupted = co_await executor_.report_interrupted();
    const auto open = co_await desk_.restore();
    if (open) {
        deps_.log->info("state.restored approvals={} interrupted_runs={}", *open, interrupted);
    }
}

std::vector<ActiveRun> Coordinator::active_requests() const {
    std::map<RequestId, std::string> holds;
    for (const auto& [target, holder] : locks_.held()) {
        auto& text = holds[holder.id];
        text += (text.empty() ? "" : ", ") + target;
    }
    std::vector<ActiveRun> out;
    for (const auto& [id, run] : executor_.runs()) {
        out.push_back(ActiveRun{id,
                                describe(run.plan.request),
                                run.requester,
                                std::string(to_string(run.state)),
                                run.received_at,
                                holds[id]});
    }
    for (const auto& [id, open] : desk_.open()) {
        out.push_back(ActiveRun{id,
                                describe(open->rollback),
                                open->request.requester,
                                fmt::format("approval {}", to_string(open->approval.state())),
                                open->request.received_at,
                                holds[id]});
    }
    return out;
}

asio::awaitable<void> Coordinator::post_shutdown_notice(std::string why, Duration grace) {
    std::vector<std::string> approvals;
    for (const auto& [id, open] : desk_.open()) {
        approvals.push_back(fmt::format("{}: {} (requested by {})",
                                        id.value,
                                        describe(open->rollback),
                                        open->request.requester.value));
    }
    std::vector<std::string> running;
    for (const auto& [id, run] : executor_.runs()) {
        running.push_back(fmt::format("{}: {}", id.value, describe(run.plan.request)));
    }
    deps_.log->info("daemon.shutdown why={} runs={} approvals={} commands={} outbox={}",
                    log_quote(why),
                    running.size(),
                    approvals.size(),
                    deps_.tasks.active(),
                    outbox_.depth());
    if (approvals.empty() && running.empty()) {
        co_return;
    }
    OutboundMessage notice{deps_.settings.slack.incidents_channel,
                           std::nullopt,
                           deps_.reporter.shutdown_notice(why, approvals, running, grace)};
    const auto key = fmt::format(
        "shutdown/{}",
        std::chrono::duration_cast<Duration>(deps_.clock.now().time_since_epoch()).count());
    co_await outbox_.post_later(std::move(notice), key);
}

asio::awaitable<void> Coordinator::shutdown(std::string why, Duration grace, Duration flush) {
    // After the grace period the steps are killed; this bounds the wait for their reports.
    constexpr Duration kAfterKill = 15s;
    stopping_ = true;
    co_await post_shutdown_notice(why, grace);
    if (!co_await deps_.tasks.idle_within(grace, deps_.clock)) {
        deps_.log->warn("daemon.grace_over runs={} commands={}: stopping their steps",
                        executor_.runs().size(),
                        deps_.tasks.active());
        co_await executor_.stop_for_shutdown();
        deps_.runbook.cancel_all();
        if (!co_await deps_.tasks.idle_within(kAfterKill, deps_.clock)) {
            deps_.log->error(
                "daemon.commands_left commands={} (their runs are reported as interrupted after "
                "the restart)",
                deps_.tasks.active());
        }
    }
    const bool drained = co_await outbox_.drain(flush);
    deps_.log->info("daemon.shutdown_done outbox_drained={} left={}", drained, outbox_.depth());
}

}  // namespace rollbot::core
