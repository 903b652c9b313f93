#pragma once

#include "bot/chat.hpp"
#include "bot/command.hpp"
#include "bot/flow/approval_desk.hpp"
#include "bot/flow/audit_trail.hpp"
#include "bot/flow/chat_out.hpp"
#include "bot/flow/outcome.hpp"
#include "bot/flow/read_commands.hpp"
#include "bot/flow/run_executor.hpp"
#include "bot/metrics.hpp"
#include "bot/ports/user_directory.hpp"
#include "bot/reporter.hpp"
#include "bot/settings.hpp"

#include <boost/asio/awaitable.hpp>
#include <spdlog/logger.h>

#include <chrono>
#include <memory>

namespace rollbot::core {

/// What the command router works with; all of it outlives the router.
struct CommandRouterDeps {
    const Settings& settings;
    ChatOut& chat;
    UserDirectory& directory;
    ReadCommands& reads;
    ApprovalDesk& desk;
    RunExecutor& runs;
    AuditTrail& audit;
    const Reporter& reporter;
    std::shared_ptr<spdlog::logger> log;
    Metrics* metrics = nullptr;
    bool force_dry_run = false;  // rollbotd --dry-run: every rollback is a dry run
};

/// Takes one `/rollback …` command: parses it (a usage error shows the grammar), checks where
/// and who (design §4: the incidents channel; operators for rollbacks and cancel), and hands
/// it to the read commands, the approval desk (actions with an approval policy) or the run
/// executor. Counts every command in `rollbot_commands_total{kind,outcome}`.
class CommandRouter {
public:
    explicit CommandRouter(CommandRouterDeps deps);

    boost::asio::awaitable<void> handle(SlashCommand cmd,
                                        std::chrono::steady_clock::time_point received);

private:
    boost::asio::awaitable<bool> allowed(SlashCommand cmd, CommandKind kind);
    boost::asio::awaitable<CommandOutcome> dispatch(SlashCommand cmd,
                                                    Command command,
                                                    std::chrono::steady_clock::time_point received);
    boost::asio::awaitable<CommandOutcome> rollback(SlashCommand cmd,
                                                    Command command,
                                                    std::chrono::steady_clock::time_point received);
    boost::asio::awaitable<void> cancel(SlashCommand cmd, Command command);

    CommandRouterDeps deps_;
};

}  // namespace rollbot::core
