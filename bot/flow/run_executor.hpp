#pragma once

#include "bot/chat.hpp"
#include "bot/command.hpp"
#include "bot/flow/audit_trail.hpp"
#include "bot/flow/chat_out.hpp"
#include "bot/flow/outbox.hpp"
#include "bot/flow/outcome.hpp"
#include "bot/flow/plan_resolver.hpp"
#include "bot/flow/rollout_watch.hpp"
#include "bot/flow/run_starter.hpp"
#include "bot/lock_table.hpp"
#include "bot/metrics.hpp"
#include "bot/ports/clock.hpp"
#include "bot/ports/runbook.hpp"
#include "bot/ports/state_store.hpp"
#include "bot/reporter.hpp"
#include "bot/run.hpp"
#include "bot/settings.hpp"

#include <boost/asio/awaitable.hpp>
#include <spdlog/logger.h>

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <string>

namespace rollbot::core {

/// What the run executor works with; all of it outlives the executor.
struct RunExecutorDeps {
    const Settings& settings;
    ChatOut& chat;
    Runbook& runbook;
    PlanResolver& plans;
    RolloutWatch& watch;
    Outbox& outbox;
    AuditTrail& audit;
    StateStore& store;
    LockTable& locks;
    const Reporter& reporter;
    const Clock& clock;
    std::shared_ptr<spdlog::logger> log;
    Metrics* metrics = nullptr;
};

/// Runs rollbacks one per target: takes the request's locks (direct rollbacks; approved ones
/// arrive holding them), plans, posts the request card, runs the steps in order and records
/// each, then verifies, reports ("ROLLBACK EXECUTED" and the rest, through the outbox) and
/// releases the locks. A write of a run's progress that fails is reported in the channel once.
class RunExecutor final : public RunStarter {
public:
    explicit RunExecutor(RunExecutorDeps deps);

    /// A rollback that needs no approval (or any dry run), typed by `cmd.user`.
    boost::asio::awaitable<CommandOutcome> direct(SlashCommand cmd,
                                                  Command command,
                                                  std::chrono::steady_clock::time_point received);
    boost::asio::awaitable<void> start(RunStart start) override;
    /// Start-up, before commands are taken: the runs a restart cut short are stored as
    /// interrupted and reported (never re-run); returns how many.
    boost::asio::awaitable<std::size_t> report_interrupted();
    /// The stop grace is over: every running run is marked (its report says so) and audited;
    /// the caller then stops their steps.
    boost::asio::awaitable<void> stop_for_shutdown();

    [[nodiscard]] bool is_running(const RequestId& id) const { return runs_.contains(id); }
    /// The runs in progress, by request id.
    [[nodiscard]] const std::map<RequestId, Run>& runs() const { return runs_; }

private:
    boost::asio::awaitable<void> execute(Run& run);
    boost::asio::awaitable<void> run_step(Run& run, std::size_t index);
    /// Runs one step; a rollout with the crash-loop watch beside it.
    boost::asio::awaitable<StepResult> perform(Run& run, Step step);
    boost::asio::awaitable<void> post_step_line(Run& run, std::size_t index);
    boost::asio::awaitable<void> finish(Run& run);
    boost::asio::awaitable<void> verify_after(Run& run);
    boost::asio::awaitable<void> report(Run& run);
    boost::asio::awaitable<void> post_verification(Run& run, std::optional<MessageTs> thread);
    boost::asio::awaitable<void> update_card(Run& run, std::string status);
    boost::asio::awaitable<void> report_interrupted_run(StoredRun run);
    /// A write of a run's progress failed: logged, counted, and the channel told once per run
    /// (directly, as the outbox cannot store it either).
    boost::asio::awaitable<void> state_not_saved(Run& run, std::string what, Error error);
    Run& add_run(RunStart start);

    RunExecutorDeps deps_;
    std::map<RequestId, Run> runs_;  // in progress; node-based, so references stay valid
};

}  // namespace rollbot::core
