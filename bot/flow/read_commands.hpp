#pragma once

#include "bot/chat.hpp"
#include "bot/command.hpp"
#include "bot/flow/audit_trail.hpp"
#include "bot/flow/chat_out.hpp"
#include "bot/flow/rollout_watch.hpp"
#include "bot/ports/clock.hpp"
#include "bot/ports/runbook.hpp"
#include "bot/ports/state_store.hpp"
#include "bot/ports/verifier.hpp"
#include "bot/reporter.hpp"
#include "bot/settings.hpp"

#include <boost/asio/awaitable.hpp>

#include <functional>
#include <vector>

namespace rollbot::core {

/// What the read commands work with; all of it outlives them.
struct ReadCommandsDeps {
    const Settings& settings;
    ChatOut& chat;
    Runbook& runbook;
    Verifier& verifier;
    RolloutWatch& watch;
    StateStore& store;
    AuditTrail& audit;
    const Reporter& reporter;
    const Clock& clock;
    /// The requests in progress (runs and open approvals) with the targets each holds.
    std::function<std::vector<ActiveRun>()> active;
};

/// The commands that only read (open to anyone in the channel, design §4): help, status,
/// history, verify, advise and log. Each answers the person who asked, ephemerally (log goes
/// into the run's thread when it has one), and changes nothing.
class ReadCommands {
public:
    explicit ReadCommands(ReadCommandsDeps deps);

    boost::asio::awaitable<void> help(SlashCommand cmd);
    /// Deployments, pods, health, error rate and what is in progress; with the help first for a
    /// bare `/rollback`.
    boost::asio::awaitable<void> status(SlashCommand cmd, bool with_help);
    boost::asio::awaitable<void> history(SlashCommand cmd, Command command);
    boost::asio::awaitable<void> verify(SlashCommand cmd);
    boost::asio::awaitable<void> advise(SlashCommand cmd);
    /// One request's audit records as a timeline (the latest run's when no id is given).
    boost::asio::awaitable<void> log(SlashCommand cmd, Command command);

private:
    boost::asio::awaitable<DeploymentStatus> read_deployment(std::string name);

    ReadCommandsDeps deps_;
};

}  // namespace rollbot::core
