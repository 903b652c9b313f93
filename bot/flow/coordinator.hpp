#pragma once

#include "bot/flow/approval_desk.hpp"
#include "bot/flow/audit_trail.hpp"
#include "bot/flow/chat_out.hpp"
#include "bot/flow/command_router.hpp"
#include "bot/flow/outbox.hpp"
#include "bot/flow/plan_resolver.hpp"
#include "bot/flow/read_commands.hpp"
#include "bot/flow/rollout_watch.hpp"
#include "bot/flow/run_executor.hpp"
#include "bot/lock_table.hpp"
#include "bot/metrics.hpp"
#include "bot/ports/chat_transport.hpp"
#include "bot/ports/clock.hpp"
#include "bot/ports/inbound_sink.hpp"
#include "bot/ports/runbook.hpp"
#include "bot/ports/state_store.hpp"
#include "bot/ports/user_directory.hpp"
#include "bot/ports/verifier.hpp"
#include "bot/reporter.hpp"
#include "bot/settings.hpp"
#include "bot/task_group.hpp"

#include <boost/asio/awaitable.hpp>
#include <spdlog/logger.h>

#include <cstddef>
#include <memory>
#include <string>

namespace rollbot::core {

/// What the flow layer works with; all of it outlives the coordinator.
struct FlowDeps {
    const Settings& settings;
    ChatTransport& chat;
    UserDirectory& directory;
    Runbook& runbook;
    Verifier& verifier;
    const Clock& clock;
    const Reporter& reporter;
    StateStore& store;
    TaskGroup& tasks;
    std::shared_ptr<spdlog::logger> log;
    std::shared_ptr<spdlog::logger> audit;
    bool force_dry_run = false;  // rollbotd --dry-run: every rollback is a dry run
    Metrics* metrics = nullptr;  // commands, approvals and runs are counted here when set
};

/// The flow layer, wired: takes what users do from the chat and hands each command or reaction
/// to its part (command router, approval desk, run executor, rollout watch, outbox, audit
/// trail), each its own coroutine in the task group. Lives on the io_context thread.
class Coordinator final : public InboundSink {
public:
    explicit Coordinator(FlowDeps deps);

    /// Start-up, before inbound events are taken: the outbox resumes, runs a restart
    /// interrupted are reported (never re-run), and pending approvals come back.
    boost::asio::awaitable<void> restore();

    void on_inbound(Inbound event) override;
    boost::asio::awaitable<void> wait_idle() override;

    /// SIGTERM/SIGINT, once the transport has stopped taking input: tells the channel what is
    /// pending (when anything is), gives running commands `grace` to finish, then stops their
    /// steps (process groups killed) and lets them report, and drains the outbox for up to
    /// `flush`. Pending approvals stay stored and resume after the restart.
    boost::asio::awaitable<void> shutdown(std::string why, Duration grace, Duration flush);

    [[nodiscard]] bool stopping() const { return stopping_; }
    [[nodiscard]] std::size_t pending_approvals() const { return desk_.open().size(); }
    [[nodiscard]] std::size_t running() const { return executor_.runs().size(); }
    /// Messages stored and not yet delivered (reports waiting for Slack).
    [[nodiscard]] std::size_t outbox_depth() const { return outbox_.depth(); }
    /// Commands and reactions being handled now.
    [[nodiscard]] int active() const { return deps_.tasks.active(); }

private:
    /// Runs and open approvals, with the targets each holds, for status.
    [[nodiscard]] std::vector<ActiveRun> active_requests() const;
    boost::asio::awaitable<void> post_shutdown_notice(std::string why, Duration grace);

    FlowDeps deps_;
    ChatOut chat_;
    AuditTrail audit_;
    Outbox outbox_;
    LockTable locks_;
    PlanResolver plans_;
    RolloutWatch watch_;
    RunExecutor executor_;
    ApprovalDesk desk_;
    ReadCommands reads_;
    CommandRouter router_;
    bool stopping_ = false;
};

}  // namespace rollbot::core
