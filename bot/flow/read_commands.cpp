#include "bot/flow/read_commands.hpp"

#include "bot/text.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>

namespace rollbot::core {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

ReadCommands::ReadCommands(ReadCommandsDeps deps) : deps_(std::move(deps)) {}

asio::awaitable<void> ReadCommands::help(SlashCommand cmd) {
    co_await deps_.chat.reply(cmd.reply, deps_.reporter.help());
}

asio::awaitable<DeploymentStatus> ReadCommands::read_deployment(std::string name) {
    auto state = co_await deps_.runbook.observe(name);
    co_return DeploymentStatus{std::move(name),
                               state ? std::optional(*state) : std::nullopt,
                               state ? std::string{} : state.error().message};
}

asio::awaitable<void> ReadCommands::status(SlashCommand cmd, bool with_help) {
    std::vector<DeploymentStatus> deployments;
    std::vector<std::string> names;
    for (const auto& [name, config] : deps_.settings.kubernetes.deployments) {
        deployments.push_back(co_await read_deployment(name));
        names.push_back(name);
    }
    auto [health, rate, pods] =
        co_await (deps_.verifier.check_health() && deps_.verifier.error_rate() &&
                  deps_.watch.observe_pods(std::move(names)));
    for (std::size_t i = 0; i < deployments.size() && i < pods.size(); ++i) {
        deployments[i].pods = std::move(pods[i]);
    }
    const ServiceNow service{std::move(health), std::move(rate)};
    std::string text =
        deps_.reporter.status(deployments, deps_.active(), deps_.clock.now(), service);
    if (with_help) {
        text = deps_.reporter.help() + "\n" + text;
    }
    co_await deps_.chat.reply(cmd.reply, std::move(text));
}

asio::awaitable<void> ReadCommands::history(SlashCommand cmd, Command command) {
    std::vector<DeploymentStatus> deployments;
    for (const auto& [name, config] : deps_.settings.kubernetes.deployments) {
        if (!command.deployment || *command.deployment == name) {
            deployments.push_back(co_await read_deployment(name));
        }
    }
    co_await deps_.chat.reply(cmd.reply, deps_.reporter.history(deployments, deps_.clock.now()));
}

asio::awaitable<void> ReadCommands::verify(SlashCommand cmd) {
    std::vector<std::string> names;
    bool finished = true;
    for (const auto& [name, config] : deps_.settings.kubernetes.deployments) {
        names.push_back(name);
        auto state = co_await deps_.runbook.observe(name);
        // "Rolled out" now: every desired replica updated and available, nothing left over.
        finished = finished && state && state->updated == state->desired &&
                   state->available == state->desired && state->ready == state->desired;
    }
    const Verification v = co_await deps_.watch.verify_now(names, finished);
    const Verdict verdict = judge(v, deps_.settings.verify);
    co_await deps_.chat.reply(
        cmd.reply, deps_.reporter.verification_summary(v, verdict, deps_.settings.verify));
}

asio::awaitable<void> ReadCommands::advise(SlashCommand cmd) {
    AdviceInput input;
    std::vector<std::string> names;
    for (const auto& [name, config] : deps_.settings.kubernetes.deployments) {
        names.push_back(name);
        auto state = co_await deps_.runbook.observe(name);
        if (state) {
            input.deployments[name] = *state;
        } else {
            input.unreadable[name] = state.error().message;
        }
    }
    auto [health, rate, pods] =
        co_await (deps_.verifier.check_health() && deps_.verifier.error_rate() &&
                  deps_.watch.observe_pods(std::move(names)));
    input.health = std::move(health);
    input.error_rate = std::move(rate);
    input.pods = std::move(pods);
    input.now = deps_.clock.now();
    const Advice advice = core::advise(input, deps_.settings.verify);
    deps_.audit.log().info("advise user={} kind={} command={}",
                           cmd.user,
                           to_string(advice.kind),
                           log_quote(advice.command));
    co_await deps_.chat.reply(cmd.reply, deps_.reporter.advice(advice));
}

asio::awaitable<void> ReadCommands::log(SlashCommand cmd, Command command) {
    std::optional<RequestId> id = command.id;
    if (!id) {
        auto recent = co_await deps_.store.recent_runs(1);
        if (recent && !recent->empty()) {
            id = recent->front().id;
        }
    }
    if (!id) {
        co_await deps_.chat.reply(cmd.reply, deps_.reporter.refused("there is no run to show yet"));
        co_return;
    }
    auto records = co_await deps_.store.audit_log(*id);
    if (!records) {
        co_await deps_.chat.reply(
            cmd.reply,
            deps_.reporter.refused(
                "rollbot cannot read its audit trail", std::nullopt, records.error().message));
        co_return;
    }
    auto run = co_await deps_.store.find_run(*id);
    std::string what;
    std::optional<MessageRef> card;
    if (run && *run) {
        what = (*run)->what;
        card = (*run)->card;
    }
    if (card) {
        auto posted = co_await deps_.chat.post(
            card->channel, card->ts, deps_.reporter.timeline(*id, what, *records));
        if (posted) {
            co_return;
        }
    }
    co_await deps_.chat.reply(cmd.reply, deps_.reporter.timeline(*id, what, *records));
}

}  // namespace rollbot::core
