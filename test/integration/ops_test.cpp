// Operating the real daemon: its own HTTP endpoint (/healthz, /readyz, /metrics), SIGTERM with
// work pending, and SIGHUP reloads. Console mode against the fake cluster, and Slack mode
// against the fake Slack, everything on 127.0.0.1 with ports chosen by the kernel.
#include "test/integration/console_fixture.hpp"
#include "test/support/exposition.hpp"
#include "test/support/fake_slack_server.hpp"
#include "test/support/http_get.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>

namespace rollbot::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Reads /metrics and checks every line; on a problem the test fails and the result is empty.
Exposition scrape(std::uint16_t port) {
    auto response = http_get(port, "/metrics");
    EXPECT_EQ(response.status, 200);
    auto parsed = parse_exposition(response.body);
    if (auto* problem = std::get_if<std::string>(&parsed)) {
        ADD_FAILURE() << "/metrics is not valid exposition format: " << *problem;
        return {};
    }
    return std::get<Exposition>(std::move(parsed));
}

// The sum of a counter over every series whose labels include `match`.
double total(const Exposition& e,
             const std::string& name,
             const std::map<std::string, std::string>& match = {}) {
    double sum = 0;
    for (const auto& s : e.samples) {
        if (s.name != name) {
            continue;
        }
        bool all = true;
        for (const auto& [k, v] : match) {
            auto it = s.labels.find(k);
            all = all && it != s.labels.end() && it->second == v;
        }
        sum += all ? s.value : 0;
    }
    return sum;
}

class ConsoleOps : public ConsoleDaemonTest {
protected:
    std::uint16_t port_of(ChildProcess& bot) {
        EXPECT_TRUE(bot.wait_for_stderr("http.listening", kWait));
        auto port = listening_port(bot.err());
        EXPECT_TRUE(port.has_value()) << bot.err();
        return port.value_or(0);
    }

    void write_config_with(const std::string& extra, const std::string& operators = "") {
        DaemonConfig config{.dir = dir_.path().string(),
                            .health_url = health_.url("/api/v1/health")};
        config.prometheus_url = health_.base_url();
        config.extra = extra;
        std::string text = daemon_config(config);
        if (!operators.empty()) {
            const std::string from = "operators: {users: [U0ALICE, U0BOB]}";
            text.replace(text.find(from), from.size(), "operators: {users: [" + operators + "]}");
        }
        dir_.write("config.yaml", text);
    }
};

TEST_F(ConsoleOps, EndpointsAnswerAndMetricsCountWhatHappened) {
    auto bot = start();
    const auto port = port_of(*bot);
    ASSERT_NE(port, 0);
    EXPECT_EQ(http_get(port, "/healthz").status, 200);
    auto ready = http_get(port, "/readyz");
    EXPECT_EQ(ready.status, 200) << ready.body;
    EXPECT_THAT(ready.body, HasSubstr("ok state:"));
    EXPECT_EQ(http_get(port, "/metrics", "POST").status, 405);
    EXPECT_EQ(http_get(port, "/debug").status, 404);

    bot->write_stdin("/rollback backend abc1234f --reason metrics\n/wait\n");
    ASSERT_TRUE(bot->wait_for_stdout("ROLLBACK EXECUTED", kWait)) << bot->out();
    bot->write_stdin("/rollback backend nothex!\n/wait\n/rollback status\n/wait\n");
    ASSERT_TRUE(bot->wait_for_stdout("rollbot status", kWait)) << bot->out();
    bot->write_stdin("/rollback db -1\n/wait\n");
    ASSERT_TRUE(bot->wait_for_stdout("R2 needs approval", kWait)) << bot->out();
    // /wait reads on only once every command and reaction is handled: the help answer below
    // comes after the rejection is closed and counted.
    bot->write_stdin("/as U0BOB\n+x\n/wait\n/rollback help\n");
    ASSERT_TRUE(bot->wait_for_stdout("Rejected", kWait)) << bot->out();
    ASSERT_TRUE(bot->wait_for_stdout("runs PreSkool's rollback runbook", kWait)) << bot->out();

    const auto e = scrape(port);
    EXPECT_EQ(e.value("rollbot_commands_total", {{"kind", "backend"}, {"outcome", "ran"}}), 1);
    EXPECT_EQ(e.value("rollbot_commands_total", {{"kind", "unknown"}, {"outcome", "usage_error"}}),
              1);
    EXPECT_EQ(e.value("rollbot_commands_total", {{"kind", "status"}, {"outcome", "answered"}}), 1);
    EXPECT_EQ(
        e.value("rollbot_commands_total", {{"kind", "db"}, {"outcome", "approval_requested"}}), 1);
    EXPECT_EQ(e.value("rollbot_approvals_total", {{"outcome", "rejected"}}), 1);
    EXPECT_EQ(total(e, "rollbot_runs_total", {{"action", "backend"}}), 1);
    EXPECT_EQ(e.value("rollbot_run_duration_seconds_count", {{"action", "backend"}}), 1);
    EXPECT_EQ(e.value("rollbot_runs_active"), 0);
    EXPECT_EQ(e.value("rollbot_approvals_pending"), 0);
    EXPECT_EQ(e.value("rollbot_outbox_depth"), 0);
    EXPECT_EQ(e.value("rollbot_ready"), 1);
    EXPECT_GT(e.value("process_resident_memory_bytes"), 0);
    EXPECT_EQ(total(e, "rollbot_metrics_dropped_total"), 0) << "every family is declared";
    bot->close_stdin();
    EXPECT_EQ(bot->wait_exit(kWait), 0);
}

TEST_F(ConsoleOps, SigtermWithAPendingApprovalSaysSoAndItResumesAfterTheRestart) {
    {
        auto bot = start();
        bot->write_stdin("/rollback db -1 --reason before the restart\n/wait\n");
        ASSERT_TRUE(bot->wait_for_stdout("R1 needs approval", kWait));
        bot->send_signal(SIGTERM);
        ASSERT_EQ(bot->wait_exit(kWait), 0) << bot->err();
        EXPECT_THAT(bot->out(), HasSubstr("rollbot is restarting"));
        EXPECT_THAT(bot->out(), HasSubstr("Pending approvals will resume"));
        EXPECT_THAT(bot->out(), HasSubstr("R1: DB downgrade -1 (requested by U0ALICE)"));
        EXPECT_THAT(bot->err(), HasSubstr("daemon.shutdown_done outbox_drained=true left=0"));
    }
    auto bot = start();
    ASSERT_TRUE(bot->wait_for_stdout("still waiting", kWait)) << bot->out();
    bot->write_stdin("/as U0BOB\n+white_check_mark\n/wait\n");
    ASSERT_TRUE(bot->wait_for_stdout("ROLLBACK EXECUTED", kWait)) << bot->out();
    bot->close_stdin();
    EXPECT_EQ(bot->wait_exit(kWait), 0);
}

TEST_F(ConsoleOps, SigtermStopsALongStepAfterTheGraceAndReportsIt) {
    write_config_with("shutdown:\n  grace: 1s\n  outbox_flush: 5s\n");
    edit_cluster([](json& state) { state["status_delay_ms"] = 100000; });
    auto bot = start();
    bot->write_stdin("/rollback backend --reason slow rollout\n");
    // The undo has been applied; `rollout status` is now waiting.
    ASSERT_TRUE(bot->wait_for_stdout("rolled back", kWait)) << bot->out();
    bot->send_signal(SIGTERM);
    ASSERT_EQ(bot->wait_exit(kWait), 0) << bot->err();
    const std::string out = bot->out();
    EXPECT_THAT(out, HasSubstr("rollbot is restarting"));
    EXPECT_THAT(out, HasSubstr("Running now"));
    EXPECT_THAT(out, HasSubstr("ROLLBACK FAILED"));
    EXPECT_THAT(out, HasSubstr("rollbot was stopping and ended this step"));
    EXPECT_THAT(out, Not(HasSubstr("ROLLBACK EXECUTED")));
    EXPECT_THAT(bot->err(), HasSubstr("daemon.grace_over"));
    // Stopped and reported: after a restart it is not reported again as interrupted.
    auto again = start();
    again->write_stdin("/rollback status\n/wait\n");
    ASSERT_TRUE(again->wait_for_stdout("rollbot status", kWait));
    again->close_stdin();
    ASSERT_EQ(again->wait_exit(kWait), 0);
    EXPECT_THAT(again->out(), Not(HasSubstr("was interrupted")));
}

TEST_F(ConsoleOps, SighupAppliesAValidFileAndKeepsTheRunningOneOtherwise) {
    auto bot = start();
    // Broken: refused, and alice may still roll back.
    dir_.write("config.yaml", "slack: [\n");
    bot->send_signal(SIGHUP);
    ASSERT_TRUE(bot->wait_for_stderr("config.reload_refused", kWait)) << bot->err();
    bot->write_stdin("/rollback backend --dry-run\n/wait\n");
    ASSERT_TRUE(bot->wait_for_stdout("DRY RUN", kWait)) << bot->out();
    // Valid, without alice among the operators, and with a start-up-only key changed.
    write_config_with("", "U0BOB");
    std::string text = dir_.read("config.yaml");
    text.replace(text.find("listen: 127.0.0.1:0"), 19, "listen: 127.0.0.1:1");
    dir_.write("config.yaml", text);
    bot->send_signal(SIGHUP);
    ASSERT_TRUE(bot->wait_for_stderr("config.reloaded", kWait)) << bot->err();
    EXPECT_THAT(bot->err(), HasSubstr("applied=access needs_restart=http.listen"));
    bot->write_stdin("/rollback backend --dry-run\n/wait\n");
    ASSERT_TRUE(bot->wait_for_stdout("only rollbot operators may run a rollback", kWait))
        << bot->out();
    bot->close_stdin();
    EXPECT_EQ(bot->wait_exit(kWait), 0);
    EXPECT_THAT(bot->err(), HasSubstr("config.reloaded applied=access"))
        << "the audit log records it too";
}

class SlackOps : public ::testing::Test {
protected:
    std::unique_ptr<ChildProcess> start(FakeSlackServer& slack) {
        DaemonConfig config{.dir = dir_.path().string(),
                            .health_url = health_.url("/api/v1/health")};
        config.prometheus_url = health_.base_url();
        dir_.write("config.yaml", daemon_config(config));
        return std::make_unique<ChildProcess>(
            std::vector<std::string>{ROLLBOTD_PATH, "--config", dir_.file("config.yaml").string()},
            slack.daemon_env());
    }

    static std::string hello() {
        return R"({"type":"hello","num_connections":1,)"
               R"("debug_info":{"host":"applink-fake","approximate_connection_time":18060},)"
               R"("connection_info":{"app_id":"A0TEST"}})";
    }

    TempDir dir_;
    FakeHttpServer health_{fake_erp_handler()};
};

TEST_F(SlackOps, ReadyOnlyWhileASocketModeConnectionIsLive) {
    FakeSlackOptions options;
    options.send_hello = false;  // the test says hello itself
    FakeSlackServer slack(options);
    slack.add_user({"U0ALICE", "alice"});
    auto bot = start(slack);
    ASSERT_TRUE(bot->wait_for_stderr("http.listening", kWait));
    const auto port = listening_port(bot->err()).value_or(0);
    ASSERT_NE(port, 0);
    ASSERT_TRUE(slack.wait_for_connections(1, kWait));

    auto before = http_get(port, "/readyz");
    EXPECT_EQ(before.status, 503) << "connected but no hello yet: " << before.body;
    EXPECT_THAT(before.body, HasSubstr("FAIL slack"));
    EXPECT_EQ(http_get(port, "/healthz").status, 200) << "alive all the same";

    slack.send_text(hello());
    ASSERT_TRUE(bot->wait_for_stderr("slack.connected", kWait));
    auto after = http_get(port, "/readyz");
    EXPECT_EQ(after.status, 200) << after.body;
    EXPECT_THAT(after.body, HasSubstr("ok slack: connected"));

    const auto id = slack.send_slash_command("help", "U0ALICE", "C0INCIDENTS");
    ASSERT_TRUE(slack.wait_for_ack(id, kWait));
    ASSERT_TRUE(slack.wait_for_post("", "runs PreSkool's rollback runbook", kWait));
    auto e = scrape(port);
    EXPECT_EQ(e.value("rollbot_slack_connection_live"), 1);
    EXPECT_EQ(e.value("rollbot_slack_hellos_total"), 1);
    EXPECT_EQ(e.value("rollbot_slack_envelopes_total", {{"type", "slash_commands"}}), 1);
    EXPECT_EQ(e.value("rollbot_slack_api_calls_total", {{"method", "apps.connections.open"}}), 1);
    EXPECT_EQ(e.value("rollbot_slack_api_calls_total", {{"method", "response_url"}}), 1);

    // The link drops and reconnecting fails for now: not ready, and the reason is counted.
    slack.inject_fault(
        "apps.connections.open",
        FakeSlackFault::slack_error("internal_error", FakeSlackFault::kUntilCleared));
    slack.drop_connection();
    ASSERT_TRUE(bot->wait_for_stderr("slack.disconnected", kWait));
    auto dropped = http_get(port, "/readyz");
    EXPECT_EQ(dropped.status, 503) << dropped.body;
    EXPECT_THAT(dropped.body, HasSubstr("no live Socket Mode connection"));
    e = scrape(port);
    EXPECT_EQ(e.value("rollbot_slack_connection_live"), 0);
    EXPECT_EQ(e.value("rollbot_ready"), 0);

    // Back: a new connection that says hello makes it ready again.
    slack.clear_faults();
    ASSERT_TRUE(slack.wait_for_opened(2, kWait));
    slack.send_text(hello());
    const auto second = slack.send_slash_command("help", "U0ALICE", "C0INCIDENTS");
    ASSERT_TRUE(slack.wait_for_ack(second, kWait));
    EXPECT_EQ(http_get(port, "/readyz").status, 200);
    e = scrape(port);
    EXPECT_EQ(e.value("rollbot_slack_hellos_total"), 2);
    EXPECT_EQ(total(e, "rollbot_slack_reconnects_total"), 1);
    EXPECT_GE(e.value("rollbot_slack_api_calls_total", {{"method", "apps.connections.open"}}), 2);
    // Counted once the ack is written and once the answer is out: long done for the first.
    EXPECT_GE(e.value("rollbot_slack_ack_seconds_count"), 1);
    EXPECT_GE(e.value("rollbot_commands_total", {{"kind", "help"}, {"outcome", "answered"}}), 1);

    bot->send_signal(SIGTERM);
    EXPECT_EQ(bot->wait_exit(kWait), 0) << bot->err();
}

}  // namespace
}  // namespace rollbot::test
