#include "test/support/flow_harness.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

namespace rollbot::test {
namespace {

using namespace std::chrono_literals;

core::Settings flow_settings() {
    core::Settings s;
    s.source = "flow-test.yaml";
    s.slack.incidents_channel = core::ChannelId{std::string(FlowHarness::kChannel)};
    core::ApprovalPolicy db;
    db.approvers.usergroups = {core::UsergroupId{"S0DBA"}};
    db.required = 1;
    db.timeout = std::chrono::minutes(15);
    s.approvals[core::ActionKind::Db] = db;
    s.kubernetes.deployments["backend"] = {"backend", "ghcr.io/your-org/preskool-backend", 120s};
    s.kubernetes.deployments["frontend"] = {"frontend", "ghcr.io/your-org/preskool-frontend", 60s};
    return s;
}

std::shared_ptr<spdlog::logger> capture(std::string name, std::ostringstream& out) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_st>(out);
    sink->set_pattern("%n %l %v");
    auto logger = std::make_shared<spdlog::logger>(std::move(name), std::move(sink));
    logger->set_level(spdlog::level::debug);
    return logger;
}

std::unique_ptr<store::SqliteStore> memory_store() {
    auto opened = store::SqliteStore::open(":memory:");
    if (!opened) {
        ADD_FAILURE() << "state store: " << opened.error().message;
        std::abort();
    }
    return std::move(*opened);
}

}  // namespace

FlowHarness::FlowHarness()
    : settings(flow_settings()),
      log(capture("core", log_text)),
      audit_log(capture("audit", log_text)),
      sqlite(memory_store()),
      sqlite_port(*sqlite),
      store(sqlite_port),
      chat(io.get_executor()),
      runbook(io.get_executor()),
      renderer(templates::Renderer::builtin()),
      reporter(renderer, settings),
      tasks(io.get_executor(), log) {
    core::define_rollbot_metrics(metrics);
    for (const char* user : {"U0ALICE", "U0CAROL", "U0BOB", "U0DAVE"}) {
        chat.add_user(user);
    }
    chat.add_user("U0BOT", true);
    chat.add_usergroup("S0DBA", {"U0BOB", "U0DAVE"});
}

void FlowHarness::run() {
    io.restart();
    while (io.poll() > 0) {
    }
}

void FlowHarness::advance(std::chrono::milliseconds by) {
    clock.advance(by);
    run();
}

void FlowHarness::spawn(boost::asio::awaitable<void> task, std::string name) {
    tasks.spawn(std::move(name), std::move(task));
    run();
}

core::Coordinator& FlowHarness::coordinator() {
    if (!coordinator_) {
        coordinator_.emplace(core::FlowDeps{settings,
                                            chat,
                                            chat,
                                            runbook,
                                            verifier,
                                            clock,
                                            reporter,
                                            store,
                                            tasks,
                                            log,
                                            audit_log,
                                            force_dry_run,
                                            &metrics});
    }
    return *coordinator_;
}

void FlowHarness::command(std::string_view text, std::string_view user, std::string_view channel) {
    coordinator().on_inbound(slash(text, user, channel));
    run();
}

void FlowHarness::react(std::string_view user,
                        std::string_view reaction_name,
                        const core::MessageTs& ts,
                        bool added,
                        std::string event_id) {
    coordinator().on_inbound(reaction(user, reaction_name, ts, added, std::move(event_id)));
    run();
}

FakeChat::Post FlowHarness::post(std::string_view text) const {
    auto found = chat.find_post(text);
    if (!found) {
        ADD_FAILURE() << "no post contains \"" << text << "\"";
        return {};
    }
    return *found;
}

std::string FlowHarness::logs() const {
    log->flush();
    audit_log->flush();
    return log_text.str();
}

double FlowHarness::counter(std::string_view name, const core::Metrics::LabelValues& labels) {
    return metrics.value(name, labels);
}

core::SlashCommand FlowHarness::slash(std::string_view text,
                                      std::string_view user,
                                      std::string_view channel) {
    core::SlashCommand cmd;
    cmd.user = core::UserId{std::string(user)};
    cmd.user_name = std::string(user);
    cmd.channel = core::ChannelId{std::string(channel)};
    cmd.command = "/rollback";
    cmd.text = std::string(text);
    cmd.reply = core::ReplyTarget{cmd.channel, cmd.user, core::Secret{}};
    return cmd;
}

core::ReactionEvent FlowHarness::reaction(std::string_view user,
                                          std::string_view name,
                                          const core::MessageTs& ts,
                                          bool added,
                                          std::string event_id) {
    core::ReactionEvent event;
    event.added = added;
    event.user = core::UserId{std::string(user)};
    event.reaction = std::string(name);
    event.item = core::MessageRef{core::ChannelId{std::string(kChannel)}, ts};
    event.event_id = std::move(event_id);
    return event;
}

}  // namespace rollbot::test
