#pragma once

#include "bot/approval.hpp"
#include "bot/chat.hpp"
#include "bot/command.hpp"
#include "bot/flow/audit_trail.hpp"
#include "bot/flow/chat_out.hpp"
#include "bot/flow/outcome.hpp"
#include "bot/flow/plan_resolver.hpp"
#include "bot/flow/run_starter.hpp"
#include "bot/lock_table.hpp"
#include "bot/metrics.hpp"
#include "bot/ports/clock.hpp"
#include "bot/ports/state_store.hpp"
#include "bot/ports/user_directory.hpp"
#include "bot/reporter.hpp"
#include "bot/settings.hpp"
#include "bot/task_group.hpp"
#include "bot/timer.hpp"

#include <boost/asio/awaitable.hpp>
#include <spdlog/logger.h>

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace rollbot::core {

/// What the approval desk works with; all of it outlives the desk.
struct ApprovalDeskDeps {
    const Settings& settings;
    ChatOut& chat;
    UserDirectory& directory;
    PlanResolver& plans;
    RunStarter& runs;  // where an approved request goes, with its locks
    AuditTrail& audit;
    StateStore& store;
    LockTable& locks;
    const Reporter& reporter;
    const Clock& clock;
    TaskGroup& tasks;
    std::shared_ptr<spdlog::logger> log;
    Metrics* metrics = nullptr;
};

/// One open approval. The coroutines working on it share it through a handle and look at
/// `closed` whenever they resume: the approval may have left the desk while they waited.
struct OpenApproval {
    OpenApproval(Approval a,
                 StoredRequest r,
                 RollbackRequest rb,
                 std::optional<std::string> why,
                 std::string card_body,
                 std::chrono::steady_clock::time_point at,
                 TaskGroup& tasks,
                 const Clock& clock)
        : approval(std::move(a)),
          request(std::move(r)),
          rollback(std::move(rb)),
          reason(std::move(why)),
          body(std::move(card_body)),
          received(at),
          expiry(tasks.executor(), clock) {}

    Approval approval;
    StoredRequest request;
    RollbackRequest rollback;
    std::optional<std::string> reason;
    std::string body;  // the card's fixed part: request, plan, SQL preview
    std::chrono::steady_clock::time_point received;
    Timer expiry;
    bool closed = false;  // decided, cancelled or handed to its run: no longer the desk's
};
using ApprovalHandle = std::shared_ptr<OpenApproval>;

/// Holds requests that need approval (design §5): posts the approval card, takes reactions on
/// it, expires it, cancels it, and re-plans just before an approved request runs (a changed
/// plan supersedes the card and asks again). Every transition is saved, audited and shown on
/// the card; open approvals hold their targets' locks and survive a restart.
class ApprovalDesk {
public:
    explicit ApprovalDesk(ApprovalDeskDeps deps);

    /// A rollback whose action has an approval policy (never a dry run): locks, plans, saves and
    /// posts the card, and tells the requester where it is.
    boost::asio::awaitable<CommandOutcome> request(SlashCommand cmd,
                                                   Command command,
                                                   std::chrono::steady_clock::time_point received);
    /// A reaction anywhere; only those on an open card count (once per Slack event).
    boost::asio::awaitable<void> on_reaction(ReactionEvent event);
    /// `/rollback cancel [<id>]`: the given open approval, else the user's newest own one.
    boost::asio::awaitable<void> cancel(SlashCommand cmd, std::optional<RequestId> id);
    /// Start-up: brings back the stored open approvals with their locks and expiry, posts the
    /// cards that were never posted, and runs those approved before the restart; nullopt when
    /// the store cannot be read.
    boost::asio::awaitable<std::optional<std::size_t>> restore();

    /// The open approvals, by request id.
    [[nodiscard]] const std::map<RequestId, ApprovalHandle>& open() const { return open_; }

private:
    /// The card of a new request: posted, audited, its expiry armed, the requester told.
    boost::asio::awaitable<CommandOutcome> show_first_card(ApprovalHandle handle, SlashCommand cmd);
    boost::asio::awaitable<void> decided(ApprovalHandle handle, ApprovalDecision decision);
    boost::asio::awaitable<void> run_approved(ApprovalHandle handle);
    boost::asio::awaitable<void> supersede(ApprovalHandle handle, Result<Plan> plan);
    boost::asio::awaitable<Result<MessageRef>> post_card(ApprovalHandle handle, std::string note);
    boost::asio::awaitable<void> refresh_card(ApprovalHandle handle, std::string note);
    boost::asio::awaitable<Result<Reactor>> reactor_for(UserId user, ApprovalPolicy policy);
    boost::asio::awaitable<void> expire_later(ApprovalHandle handle);
    void arm_expiry(const ApprovalHandle& handle);
    /// Leaves the desk: counted by its state, its locks released unless `to_run`.
    void close(const ApprovalHandle& handle, bool to_run = false);
    /// Saves the approval; a failure is logged and counted here. Callers that must not go on
    /// without it look at the result.
    boost::asio::awaitable<Result<void>> save(ApprovalHandle handle);
    boost::asio::awaitable<void> restore_one(StoredApproval stored);
    [[nodiscard]] ApprovalHandle find_card(const MessageRef& item) const;

    ApprovalDeskDeps deps_;
    std::map<RequestId, ApprovalHandle> open_;
};

}  // namespace rollbot::core
