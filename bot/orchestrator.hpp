#pragma once

#include "bot/access_policy.hpp"
#include "bot/chat.hpp"
#include "bot/clock.hpp"
#include "bot/command.hpp"
#include "bot/lock_table.hpp"
#include "bot/reporter.hpp"
#include "bot/run.hpp"
#include "bot/runbook.hpp"
#include "bot/settings.hpp"

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
    std::shared_ptr<spdlog::logger> log;
    std::shared_ptr<spdlog::logger> audit;
    bool force_dry_run = false;  // rollbotd --dry-run: every rollback is a dry run
};

/// Takes commands from the chat, checks who and where, and runs rollbacks one per target.
/// Lives on the io_context thread; every command is its own coroutine.
class Orchestrator final : public InboundSink {
public:
    Orchestrator(boost::asio::any_io_executor executor, OrchestratorDeps deps);

    void on_inbound(Inbound event) override;
    boost::asio::awaitable<void> wait_idle() override;

    /// Number of commands being handled now.
    [[nodiscard]] int active() const { return active_; }

private:
    void spawn(boost::asio::awaitable<void> task, std::string name);
    void task_done(const std::string& name, const std::exception_ptr& error);

    boost::asio::awaitable<void> handle_command(SlashCommand cmd,
                                                std::chrono::steady_clock::time_point received);
    boost::asio::awaitable<bool> allowed(SlashCommand cmd, CommandKind kind);
    boost::asio::awaitable<void> reply(ReplyTarget to, std::string text);
    boost::asio::awaitable<Result<MessageRef>> post(ChannelId channel,
                                                    std::optional<MessageTs> thread,
                                                    std::string text);
    boost::asio::awaitable<void> show_status(SlashCommand cmd, bool with_help);
    boost::asio::awaitable<void> refuse_for_approval(SlashCommand cmd, Command command);
    boost::asio::awaitable<void> rollback(SlashCommand cmd,
                                          Command command,
                                          std::chrono::steady_clock::time_point received);
    boost::asio::awaitable<void> execute(RequestId id);
    boost::asio::awaitable<ClusterSnapshot> observe(std::vector<std::string> names, RequestId id);
    boost::asio::awaitable<void> finish(RequestId id);
    boost::asio::awaitable<void> update_card(RequestId id, std::string status);

    RequestId next_request_id();

    boost::asio::any_io_executor executor_;
    OrchestratorDeps deps_;
    LockTable locks_;
    std::map<RequestId, Run> runs_;  // in progress; node-based, so references stay valid
    std::uint64_t next_id_ = 1;
    int active_ = 0;
    boost::asio::steady_timer idle_;
};

}  // namespace rollbot::core
