#include "bot/flow/command_router.hpp"

#include "bot/access_policy.hpp"
#include "bot/text.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace rollbot::core {

namespace asio = boost::asio;

CommandRouter::CommandRouter(CommandRouterDeps deps) : deps_(std::move(deps)) {}

asio::awaitable<void> CommandRouter::handle(SlashCommand cmd,
                                            std::chrono::steady_clock::time_point received) {
    deps_.audit.log().info(
        "command user={} channel={} text={}", cmd.user, cmd.channel, log_quote(cmd.text));
    auto parsed = parse_command(cmd.text);
    if (!parsed) {
        if (cmd.channel != deps_.settings.slack.incidents_channel) {
            count(deps_.metrics,
                  "rollbot_commands_total",
                  {"unknown", std::string(to_string(CommandOutcome::WrongChannel))});
            co_await deps_.chat.reply(
                cmd.reply,
                deps_.reporter.refused("rollbot takes commands only in",
                                       deps_.settings.slack.incidents_channel));
            co_return;
        }
        count(deps_.metrics,
              "rollbot_commands_total",
              {"unknown", std::string(to_string(CommandOutcome::UsageError))});
        deps_.audit.log().info(
            "command.rejected user={} error={}", cmd.user, log_quote(parsed.error().message));
        co_await deps_.chat.reply(cmd.reply, deps_.reporter.usage_error(parsed.error().message));
        co_return;
    }
    const Command command = *parsed;
    const std::string kind = command.rollback ? std::string(to_string(command.rollback->action))
                                              : std::string(to_string(command.kind));
    CommandOutcome outcome = CommandOutcome::Refused;
    if (co_await allowed(cmd, command.kind)) {
        outcome = co_await dispatch(std::move(cmd), command, received);
    }
    count(deps_.metrics, "rollbot_commands_total", {kind, std::string(to_string(outcome))});
}

asio::awaitable<CommandOutcome> CommandRouter::dispatch(
    SlashCommand cmd, Command command, std::chrono::steady_clock::time_point received) {
    switch (command.kind) {
        case CommandKind::Overview:
            co_await deps_.reads.status(std::move(cmd), true);
            break;
        case CommandKind::Help:
            co_await deps_.reads.help(std::move(cmd));
            break;
        case CommandKind::Status:
            co_await deps_.reads.status(std::move(cmd), false);
            break;
        case CommandKind::Rollback:
            co_return co_await rollback(std::move(cmd), std::move(command), received);
        case CommandKind::Cancel:
            co_await cancel(std::move(cmd), std::move(command));
            break;
        case CommandKind::Log:
            co_await deps_.reads.log(std::move(cmd), std::move(command));
            break;
        case CommandKind::History:
            co_await deps_.reads.history(std::move(cmd), std::move(command));
            break;
        case CommandKind::Verify:
            co_await deps_.reads.verify(std::move(cmd));
            break;
        case CommandKind::Advise:
            co_await deps_.reads.advise(std::move(cmd));
            break;
    }
    co_return CommandOutcome::Answered;
}

asio::awaitable<CommandOutcome> CommandRouter::rollback(
    SlashCommand cmd, Command command, std::chrono::steady_clock::time_point received) {
    command.rollback->dry_run = command.rollback->dry_run || deps_.force_dry_run;
    const bool needs_approval = !command.rollback->dry_run &&
                                deps_.settings.approval_for(command.rollback->action) != nullptr;
    if (needs_approval) {
        co_return co_await deps_.desk.request(std::move(cmd), std::move(command), received);
    }
    co_return co_await deps_.runs.direct(std::move(cmd), std::move(command), received);
}

asio::awaitable<void> CommandRouter::cancel(SlashCommand cmd, Command command) {
    // rollbot does not stop a runbook step half-way; cancel is for requests still waiting.
    if (command.id && deps_.runs.is_running(*command.id)) {
        co_await deps_.chat.reply(
            cmd.reply,
            deps_.reporter.refused(
                fmt::format("{} is already running; rollbot does not stop a runbook step half-way",
                            command.id->value)));
        co_return;
    }
    co_await deps_.desk.cancel(std::move(cmd), command.id);
}

asio::awaitable<bool> CommandRouter::allowed(SlashCommand cmd, CommandKind kind) {
    UserInfo user{cmd.user, cmd.user_name, false, false};
    auto info = co_await deps_.directory.user_info(cmd.user);
    if (info) {
        user = *info;
    } else if (needs_operator(kind)) {
        co_await deps_.chat.reply(cmd.reply,
                                  deps_.reporter.refused("rollbot could not look you up, so it "
                                                         "cannot check that you may do this",
                                                         std::nullopt,
                                                         info.error().message));
        co_return false;
    }
    std::vector<UsergroupId> groups;
    if (needs_operator(kind)) {
        for (const auto& g : deps_.settings.access.operators.usergroups) {
            auto members = co_await deps_.directory.usergroup_members(g);
            if (members &&
                std::find(members->begin(), members->end(), cmd.user) != members->end()) {
                groups.push_back(g);
            } else if (!members) {
                deps_.log->warn(
                    "access.usergroup_lookup_failed group={} error={}", g, members.error().message);
            }
        }
    }
    const auto decision = decide_access(deps_.settings, cmd.channel, user, kind, groups);
    if (decision.verdict == AccessVerdict::Allowed) {
        co_return true;
    }
    deps_.audit.log().info("command.refused user={} channel={} kind={} why={}",
                           cmd.user,
                           cmd.channel,
                           to_string(kind),
                           log_quote(decision.reason));
    std::optional<ChannelId> where;
    if (decision.verdict == AccessVerdict::WrongChannel) {
        where = deps_.settings.slack.incidents_channel;
    }
    co_await deps_.chat.reply(cmd.reply, deps_.reporter.refused(decision.reason, where));
    co_return false;
}

}  // namespace rollbot::core
