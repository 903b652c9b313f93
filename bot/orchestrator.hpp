#pragma once

#include "bot/access_policy.hpp"
#include "bot/approval.hpp"
#include "bot/chat.hpp"
#include "bot/clock.hpp"
#include "bot/command.hpp"
#include "bot/lock_table.hpp"
#include "bot/metrics.hpp"
#include "bot/outbox.hpp"
#include "bot/reporter.hpp"
#include "bot/run.hpp"
#include "bot/runbook.hpp"
#include "bot/settings.hpp"
#include "bot/state_store.hpp"
#include "bot/verification.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/logger.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>

namespace rollbot::core {

/// What the orchestrator works with; all of it outlives the orchestrator.
struct OrchestratorDeps {
    const Settings& settings;
    ChatTransport& chat;
    UserDirectory& directory;
    Runbook& runbook;
    Verifier& verifier;
    const Clock& clock;
    const Reporter& reporter;
    StateStore& store;
    std::shared_ptr<spdlog::logger> log;
    std::shared_ptr<spdlog::logger> audit;
    bool force_dry_run = false;  // rollbotd --dry-run: every rollback is a dry run
    Metrics* metrics = nullptr;  // commands, approvals and runs are counted here when set
};

/// Takes commands from the chat, checks who and where, and runs rollbacks one per target.
/// Lives on the io_context thread; every command is its own coroutine.
class Orchestrator final : public InboundSink {
public:
    Orchestrator(boost::asio::any_io_executor executor, OrchestratorDeps deps);

    /// Start-up: reports runs a restart interrupted (never re-run) and restores pending
    /// approvals with their locks and expiry timers. Run before inbound events are taken.
    boost::asio::awaitable<void> restore();

    void on_inbound(Inbound event) override;
    boost::asio::awaitable<void> wait_idle() override;

    /// SIGTERM/SIGINT, once the transport has stopped taking input: tells the channel what is
    /// pending (when anything is), gives running commands `grace` to finish, then stops their
    /// steps (process groups killed) and lets them report, and drains the outbox for up to
    /// `flush`. Pending approvals stay stored and resume after the restart.
    boost::asio::awaitable<void> shutdown(std::string why, Duration grace, Duration flush);
    [[nodiscard]] bool stopping() const { return stopping_; }
    /// Open approvals and runs in progress, for /metrics.
    [[nodiscard]] std::size_t pending_approvals() const { return approvals_.size(); }
    [[nodiscard]] std::size_t running() const { return runs_.size(); }

    /// Messages stored and not yet delivered (reports waiting for Slack).
    [[nodiscard]] std::size_t outbox_depth() const { return outbox_.depth(); }

    /// Number of commands being handled now.
    [[nodiscard]] int active() const { return active_; }

private:
    void spawn(boost::asio::awaitable<void> task, std::string name);
    /// Like spawn, but not counted by wait_idle (timers that may wait for minutes).
    void spawn_background(boost::asio::awaitable<void> task, std::string name);
    void task_done(const std::string& name, const std::exception_ptr& error);

    boost::asio::awaitable<void> handle_command(SlashCommand cmd,
                                                std::chrono::steady_clock::time_point received);
    boost::asio::awaitable<bool> allowed(SlashCommand cmd, CommandKind kind);
    boost::asio::awaitable<void> reply(ReplyTarget to, std::string text);
    boost::asio::awaitable<Result<MessageRef>> post(ChannelId channel,
                                                    std::optional<MessageTs> thread,
                                                    std::string text);
    boost::asio::awaitable<void> show_status(SlashCommand cmd, bool with_help);
    boost::asio::awaitable<void> show_history(SlashCommand cmd, Command command);
    /// What came of it, for rollbot_commands_total: ran, dry_run, approval_requested, busy,
    /// refused.
    boost::asio::awaitable<std::string_view> rollback(
        SlashCommand cmd, Command command, std::chrono::steady_clock::time_point received);
    boost::asio::awaitable<void> execute(RequestId id);
    boost::asio::awaitable<ClusterSnapshot> observe(std::vector<std::string> names, RequestId id);
    boost::asio::awaitable<void> finish(RequestId id);

    // Verification (orchestrator_verify.cpp).
    struct RolloutWatch;
    struct IncidentStart {
        std::optional<std::chrono::system_clock::time_point> at;
        std::string note;
    };
    /// Health, error rate, p95 and the pods of `deployments`, all at once.
    boost::asio::awaitable<Verification> verify_now(std::vector<std::string> deployments,
                                                    bool rollout_finished);
    boost::asio::awaitable<std::vector<PodsCheck>> observe_pods(
        std::vector<std::string> deployments);
    /// `rollout status` with the crash-loop watch beside it: the pods of the new ReplicaSet
    /// are polled, and the first crash loop or restart stops the wait (and says why).
    boost::asio::awaitable<StepResult> run_watched(Step step, RequestId id);
    boost::asio::awaitable<StepResult> run_then_stop_watch(Step step,
                                                           std::shared_ptr<RolloutWatch> watch);
    boost::asio::awaitable<void> watch_rollout(std::string deployment,
                                               std::int64_t revision_before,
                                               std::shared_ptr<RolloutWatch> watch);
    /// When the incident began: the error rate's rise in the last 2 hours, else the deploy.
    boost::asio::awaitable<IncidentStart> incident_start(Plan plan,
                                                         std::chrono::system_clock::time_point at);
    /// The verification summary and the time table, in the report's thread.
    boost::asio::awaitable<void> post_verification(RequestId id, std::optional<MessageTs> thread);
    /// Follow-up summaries during `verify.watch`, then the trend's verdict.
    boost::asio::awaitable<void> watch_window(RequestId id,
                                              Verification at_report,
                                              std::vector<std::string> deployments,
                                              ChannelId channel,
                                              std::optional<MessageTs> thread);
    boost::asio::awaitable<void> show_verify(SlashCommand cmd);
    boost::asio::awaitable<void> show_advice(SlashCommand cmd);
    boost::asio::awaitable<void> update_card(RequestId id, std::string status);
    /// A write of a run's progress failed: logged, counted, and the channel told once per run
    /// (directly, as the outbox cannot store it either).
    boost::asio::awaitable<void> state_not_saved(RequestId id, std::string what, Error error);

    // Approvals (orchestrator_approvals.cpp).
    struct PendingApproval {
        Approval approval;
        StoredRequest request;
        RollbackRequest rollback;
        std::optional<std::string> reason;
        std::string body;  // the card's fixed part
        std::chrono::steady_clock::time_point received;
        std::shared_ptr<boost::asio::steady_timer> timer;
    };
    boost::asio::awaitable<std::string_view> request_approval(
        SlashCommand cmd, Command command, std::chrono::steady_clock::time_point received);
    boost::asio::awaitable<Result<Plan>> resolve_plan(RollbackRequest request, RequestId id);
    boost::asio::awaitable<void> handle_reaction(ReactionEvent event);
    boost::asio::awaitable<Result<Reactor>> reactor_for(UserId user, ApprovalPolicy policy);
    boost::asio::awaitable<void> after_decision(RequestId id, ApprovalDecision decision);
    boost::asio::awaitable<void> run_approved(RequestId id);
    boost::asio::awaitable<void> expire_later(RequestId id);
    boost::asio::awaitable<void> cancel(SlashCommand cmd, Command command);
    boost::asio::awaitable<void> show_log(SlashCommand cmd, Command command);
    boost::asio::awaitable<void> refresh_card(RequestId id, std::string note);
    boost::asio::awaitable<void> refresh_card_text(MessageRef card,
                                                   std::string body,
                                                   std::string status);
    boost::asio::awaitable<void> report_interrupted(StoredRun run);
    void restore_approval(StoredApproval stored);
    void close_approval(const RequestId& id);
    [[nodiscard]] Result<void> save(const PendingApproval& pending);
    void arm_expiry(const RequestId& id);
    /// Writes one audit record to the store (the hash chain) and the audit log.
    void record(std::string_view kind,
                const RequestId& id,
                const UserId& actor,
                const std::string& detail);

    [[nodiscard]] Result<RequestId> next_request_id();
    /// Adds 1 to a counter when metrics are attached.
    void count(std::string_view name, Metrics::LabelValues labels);
    /// Takes the request's targets, or says who holds them (the text for the requester).
    [[nodiscard]] std::optional<std::string> take_locks(const RollbackRequest& request,
                                                        const LockHolder& holder);

    boost::asio::any_io_executor executor_;
    OrchestratorDeps deps_;
    LockTable locks_;
    Outbox outbox_;
    std::map<RequestId, Run> runs_;  // in progress; node-based, so references stay valid
    std::map<RequestId, PendingApproval> approvals_;  // open approvals
    /// Waits until no command is being handled or `within` passed; true when idle.
    boost::asio::awaitable<bool> idle_within(Duration within);

    int active_ = 0;
    bool stopping_ = false;
    // Never expires: cancelled when the last command ends, which wakes every waiter at once
    // (waiters only wait on it; re-arming it would cancel the other waiters).
    boost::asio::steady_timer idle_;
};

}  // namespace rollbot::core
