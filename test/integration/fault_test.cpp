// Faults injected into the real daemon's surroundings: kubectl hanging or flooding its output,
// SIGKILL at every step of an approved DB downgrade (console mode, fake cluster), and Slack
// dropping the connection mid-run or answering 429 / 5xx on every Web API method (Slack mode,
// fake Slack). Everything on 127.0.0.1; waits have deadlines and none of them sleeps.
#include "test/integration/console_fixture.hpp"
#include "test/support/exposition.hpp"
#include "test/support/fake_slack_server.hpp"
#include "test/support/http_get.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <sys/resource.h>

namespace rollbot::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class ConsoleFaults : public ConsoleDaemonTest {
protected:
    // The daemon config with one text replaced (the first occurrence).
    void edit_config(const std::string& from, const std::string& to) {
        std::string text = dir_.read("config.yaml");
        const auto at = text.find(from);
        ASSERT_NE(at, std::string::npos) << from;
        text.replace(at, from.size(), to);
        dir_.write("config.yaml", text);
    }

    void add_fault(const json& fault) {
        edit_cluster([&](json& state) { state["faults"].push_back(fault); });
    }

    std::size_t count_calls(std::string_view what) const {
        std::size_t n = 0;
        for (const auto& c : calls()) {
            n += c.find(what) != std::string::npos ? 1U : 0U;
        }
        return n;
    }
};

TEST_F(ConsoleFaults, HangingKubectlIsStoppedAtTheTimeoutWithItsProcessGroup) {
    edit_config("  timeout: 2m\n", "  timeout: 2s\n");  // script.timeout
    // rollback.sh runs kubectl, which hangs for 10 minutes.
    add_fault(json{{"match", "rollout undo"}, {"sleep_ms", 600000}, {"stdout", "late\n"}});
    auto bot = start();
    bot->write_stdin("/rollback frontend --reason hang\n/wait\n");
    ASSERT_TRUE(bot->wait_for_stdout("ROLLBACK FAILED", kWait)) << bot->out();
    const std::string out = bot->out();
    EXPECT_THAT(out, HasSubstr("did not finish within 2s: its process group was killed"));
    EXPECT_THAT(out, Not(HasSubstr("late"))) << "the hung kubectl never got to print";
    // The daemon is free again: the lock is released and it answers.
    bot->write_stdin("/rollback frontend --dry-run\n/wait\n");
    ASSERT_TRUE(bot->wait_for_stdout("DRY RUN", kWait)) << bot->out();
    bot->close_stdin();
    EXPECT_EQ(bot->wait_exit(kWait), 0);
}

TEST_F(ConsoleFaults, TenMegabytesOfOutputAreCappedAndMemoryStaysBounded) {
    const std::string line(1023, 'x');
    add_fault(json{{"match", "rollout undo"},
                   {"stdout", line + "\n"},
                   {"repeat", 10240},  // 10 MiB
                   {"stderr", "error: flooded\n"},
                   {"exit", 1}});
    auto bot = start();
    ASSERT_TRUE(bot->wait_for_stderr("http.listening", kWait));
    const auto port = listening_port(bot->err()).value_or(0);
    bot->write_stdin("/rollback backend --reason flood\n/wait\n");
    ASSERT_TRUE(bot->wait_for_stdout("ROLLBACK FAILED", kWait));
    const std::string out = bot->out();
    EXPECT_THAT(out, HasSubstr("error: flooded"));
    EXPECT_LT(out.size(), 512U * 1024U) << "the report shows a tail, not 10 MiB";
    auto metrics = parse_exposition(http_get(port, "/metrics").body);
    ASSERT_TRUE(std::holds_alternative<Exposition>(metrics));
    const double rss = std::get<Exposition>(metrics).value("process_resident_memory_bytes");
#if !defined(__SANITIZE_ADDRESS__)  // ASan's shadow memory and quarantine make RSS meaningless
    EXPECT_LT(rss, 96.0 * 1024 * 1024) << "capture is capped at 1 MiB per stream";
#else
    EXPECT_GT(rss, 0.0);
#endif
    // The audit trail still has the digest of everything kubectl wrote.
    bot->write_stdin("/rollback log R1\n/wait\n");
    ASSERT_TRUE(bot->wait_for_stdout("exit=1", kWait)) << bot->out();
    bot->close_stdin();
    EXPECT_EQ(bot->wait_exit(kWait), 0);
}

// The state file's disk fills up in the middle of a run (RLIMIT_FSIZE lowered to 0 on the
// running daemon: every write to a file fails; the fake kubectl lifts it for itself, as the
// cluster is not on that disk). The run goes on and reports, the channel is told its progress
// was not saved, /readyz fails, a new request is refused without running anything; once the
// disk has room again everything works without a restart.
TEST_F(ConsoleFaults, StateDiskFullMidRunIsReportedAndRefusesNewWork) {
    ASSERT_TRUE(slow_rollout(dir_.path().string(), 3000));
    auto bot = start();
    ASSERT_TRUE(bot->wait_for_stderr("http.listening", kWait));
    const auto port = listening_port(bot->err()).value_or(0);
    ASSERT_EQ(http_get(port, "/readyz").status, 200) << bot->err();

    bot->write_stdin("/rollback backend --reason disk\n");
    ASSERT_TRUE(bot->wait_for_stdout("running step 2/2", kWait)) << bot->out();
    rlimit full{0, RLIM_INFINITY};
    ASSERT_EQ(::prlimit(bot->pid(), RLIMIT_FSIZE, &full, nullptr), 0) << std::strerror(errno);
    bot->write_stdin("/wait\n");
    ASSERT_TRUE(bot->wait_for_stdout("ROLLBACK EXECUTED", kWait)) << bot->out() << bot->err();
    ASSERT_TRUE(bot->wait_for_stdout("R1: rollbot cannot save its state", kWait)) << bot->out();
    EXPECT_TRUE(bot->wait_for_stderr("state.not_saved id=R1 what=step", kWait)) << bot->err();

    const auto unready = http_get(port, "/readyz");
    EXPECT_EQ(unready.status, 503);
    EXPECT_THAT(unready.body, HasSubstr("FAIL state"));
    const std::size_t undos = count_calls("rollout undo");
    EXPECT_EQ(undos, 1U);
    bot->write_stdin("/rollback frontend --reason while full\n/wait\n");
    ASSERT_TRUE(bot->wait_for_stdout("rollbot cannot write its state", kWait)) << bot->out();
    EXPECT_EQ(count_calls("rollout undo"), undos) << "a request that cannot be recorded never runs";

    // Room again: no restart needed.
    rlimit room{RLIM_INFINITY, RLIM_INFINITY};
    ASSERT_EQ(::prlimit(bot->pid(), RLIMIT_FSIZE, &room, nullptr), 0) << std::strerror(errno);
    EXPECT_EQ(http_get(port, "/readyz").status, 200);
    bot->write_stdin("/rollback frontend --reason room again\n/wait\n");
    ASSERT_TRUE(bot->wait_for_stdout("Reason:           room again", kWait)) << bot->out();
    EXPECT_EQ(count_calls("rollout undo"), undos + 1);
    auto metrics = parse_exposition(http_get(port, "/metrics").body);
    ASSERT_TRUE(std::holds_alternative<Exposition>(metrics));
    EXPECT_GE(
        std::get<Exposition>(metrics).value("rollbot_state_write_errors_total", {{"what", "step"}}),
        1.0);
    bot->close_stdin();
    ASSERT_EQ(bot->wait_exit(kWait), 0) << bot->err();
    // What was written still verifies: a failed write leaves no half record in the chain.
    ChildProcess audit(
        {ROLLBOTD_PATH, "--config", dir_.file("config.yaml").string(), "--verify-audit"});
    EXPECT_EQ(audit.wait_exit(kWait), 0) << audit.out() << audit.err();
}

// The same disk full when rollbot starts (a new state file cannot be created): a clear error
// naming the file, a non-zero exit, and no state file left half made.
TEST_F(ConsoleFaults, StateDiskFullAtStartIsAClearError) {
    const std::string state = dir_.file("state.db").string();
    ChildProcess bot({"/usr/bin/prlimit",  // util-linux, essential in Debian
                      "--fsize=0",
                      "--",
                      ROLLBOTD_PATH,
                      "--config",
                      dir_.file("config.yaml").string(),
                      "--console"});
    const auto code = bot.wait_exit(kWait);
    ASSERT_TRUE(code.has_value());
    EXPECT_NE(*code, 0);
    EXPECT_THAT(bot.err(), HasSubstr(state)) << "the error names the state file";
    EXPECT_THAT(bot.out(), Not(HasSubstr("rollbot console"))) << "it never took commands";
}

// The Beast-style loop: for each point n of an approved DB downgrade's progress, SIGKILL the
// daemon right when it shows point n, restart it, and check that the state is consistent and
// that nothing ran twice: alembic downgrade ran at most once, the database is at the start or
// at the target, a run that was cut is reported as interrupted and never re-run, and the audit
// trail verifies.
TEST_F(ConsoleFaults, SigkillAtEveryStepOfAnApprovedDowngradeNeverRunsItTwice) {
    const std::vector<std::string> points{
        "R1 needs approval",
        "Approved: running now",
        "running step 1/",
        "✅ 1/2",
        "running step 2/",
        "✅ 2/2",
        "ROLLBACK EXECUTED",
    };
    for (std::size_t n = 0; n < points.size(); ++n) {
        SCOPED_TRACE("killed at: " + points[n]);
        for (const char* file : {"state.db", "state.db-wal", "state.db-shm", "cluster.json"}) {
            std::filesystem::remove(dir_.file(file));
        }
        const std::string before = [&] {
            run_kubectl("get deployment backend -n preskool -o json");
            return cluster()["alembic"].value("current", std::string("none"));
        }();
        {
            auto bot = start();
            bot->write_stdin("/rollback db -1 --reason kill test\n/wait\n");
            ASSERT_TRUE(bot->wait_for_stdout("R1 needs approval", kWait)) << bot->out();
            if (n > 0) {
                bot->write_stdin("/as U0BOB\n+white_check_mark\n");
                ASSERT_TRUE(bot->wait_for_stdout(points[n], kWait)) << bot->out();
            }
            bot->send_signal(SIGKILL);
            ASSERT_TRUE(bot->wait_exit(kWait).has_value());
        }
        // Restart: what was cut is reported, nothing is run again by itself.
        auto bot = start();
        bot->write_stdin("/wait\n/rollback status\n/wait\n");
        ASSERT_TRUE(bot->wait_for_stdout("rollbot status", kWait)) << bot->out();
        const std::string after_restart = bot->out();
        if (n == 0) {
            // Still waiting for its approval: approving now runs it, once.
            EXPECT_THAT(after_restart, HasSubstr("still waiting"));
            bot->write_stdin("/as U0BOB\n+white_check_mark\n/wait\n");
            ASSERT_TRUE(bot->wait_for_stdout("ROLLBACK EXECUTED", kWait)) << bot->out();
        }
        // Killed while a step was running or between steps: the run's end was never written,
        // so the restart reports it as interrupted (and does not run it). From "✅ 2/2" on the
        // run may have been recorded as finished first; a report the outbox had not marked as
        // delivered is posted again (at least once), which is not a second run.
        if (n >= 2 && n <= 4) {
            EXPECT_TRUE(bot->wait_for_stdout("was interrupted", kWait)) << "a cut run is reported";
        }
        bot->close_stdin();
        ASSERT_EQ(bot->wait_exit(kWait), 0) << bot->err();
        // A kubectl that was running when the daemon died lives on in its own process group
        // and may finish the downgrade: that is the one run, never a second.
        const std::size_t downgrades = count_calls("alembic downgrade ae1027a6acf");
        EXPECT_LE(downgrades, 1U);
        if (n == 0) {
            EXPECT_EQ(downgrades, 1U) << "approved after the restart: it ran, once";
        }
        const std::string now = cluster()["alembic"].value("current", std::string("none"));
        EXPECT_TRUE(now == before || now == "ae1027a6acf") << now;
        EXPECT_EQ(now == "ae1027a6acf", count_calls("alembic downgrade ae1027a6acf") == 1U);
        ChildProcess audit(
            {ROLLBOTD_PATH, "--config", dir_.file("config.yaml").string(), "--verify-audit"});
        EXPECT_EQ(audit.wait_exit(kWait), 0) << audit.out() << audit.err();
    }
}

class SlackFaults : public ::testing::Test {
protected:
    std::unique_ptr<ChildProcess> start() {
        DaemonConfig config{.dir = dir_.path().string(),
                            .health_url = health_.url("/api/v1/health")};
        config.prometheus_url = health_.base_url();
        dir_.write("config.yaml", daemon_config(config));
        slack_.add_user({"U0ALICE", "alice"});
        slack_.add_user({"U0BOB", "bob"});
        slack_.add_usergroup("S0DBA", {"U0BOB"});
        return std::make_unique<ChildProcess>(
            std::vector<std::string>{ROLLBOTD_PATH, "--config", dir_.file("config.yaml").string()},
            slack_.daemon_env());
    }

    void slow_rollout(int ms) { ASSERT_TRUE(test::slow_rollout(dir_.path().string(), ms)); }

    // Reports only: the help text mentions ROLLBACK EXECUTED too.
    std::size_t count_reports() const {
        std::size_t n = 0;
        for (const auto& p : slack_.posts()) {
            n += p.method == "chat.postMessage" && p.text.starts_with("⏪ ROLLBACK EXECUTED") ? 1U
                                                                                             : 0U;
        }
        return n;
    }

    std::size_t count_posts(std::string_view text) const {
        std::size_t n = 0;
        for (const auto& p : slack_.posts()) {
            n += p.text.find(text) != std::string::npos ? 1U : 0U;
        }
        return n;
    }

    TempDir dir_;
    FakeHttpServer health_{fake_erp_handler()};
    FakeSlackServer slack_;
};

TEST_F(SlackFaults, ConnectionDroppedMidRunTheRunFinishesAndReports) {
    slow_rollout(1500);
    auto bot = start();
    ASSERT_TRUE(slack_.wait_for_connections(1, kWait));
    slack_.send_slash_command("backend abc1234f --reason drop", "U0ALICE", "C0INCIDENTS");
    ASSERT_TRUE(slack_.wait_for_update("running step 2/2", kWait));
    slack_.drop_connection();
    ASSERT_TRUE(slack_.wait_for_post("C0INCIDENTS", "⏪ ROLLBACK EXECUTED", kWait)) << bot->err();
    ASSERT_TRUE(slack_.wait_for_opened(2, kWait)) << "it reconnects";
    const auto id = slack_.send_slash_command("status", "U0ALICE", "C0INCIDENTS");
    ASSERT_TRUE(slack_.wait_for_ack(id, kWait)) << "and takes commands on the new connection";
    bot->send_signal(SIGTERM);
    EXPECT_EQ(bot->wait_exit(kWait), 0);
    EXPECT_EQ(count_reports(), 1U);
}

// A 429 means Slack did not act: every method waits it out and delivers, once. A 5xx may mean
// it did: idempotent calls and the outbox's messages are repeated, a response_url answer is not
// (a second ephemeral copy is worse than a logged loss), and nothing arrives twice.
TEST_F(SlackFaults, RateLimitsAndServerErrorsOnEveryMethod) {
    const std::vector<std::string> methods{"chat.postMessage",
                                           "chat.update",
                                           "chat.postEphemeral",
                                           "reactions.add",
                                           "users.info",
                                           "usergroups.users.list",
                                           "response_url"};
    auto bot = start();
    ASSERT_TRUE(slack_.wait_for_connections(1, kWait));
    for (const auto& method : methods) {
        slack_.inject_fault(method, FakeSlackFault::rate_limited(std::chrono::seconds(1), 2));
    }
    slack_.send_slash_command("backend abc1234f --reason storm", "U0ALICE", "C0INCIDENTS");
    ASSERT_TRUE(slack_.wait_for_post("C0INCIDENTS", "⏪ ROLLBACK EXECUTED", kWait)) << bot->err();
    slack_.send_slash_command("help", "U0ALICE", "C0INCIDENTS");
    ASSERT_TRUE(slack_.wait_for_post("", "runs PreSkool's rollback runbook", kWait)) << bot->err();

    for (const auto& method : methods) {
        slack_.inject_fault(method, FakeSlackFault::server_error(503, 1));
    }
    slack_.send_slash_command("frontend --reason errors", "U0ALICE", "C0INCIDENTS");
    ASSERT_TRUE(slack_.wait_for_post("C0INCIDENTS", "Reason:           errors", kWait))
        << bot->err();
    slack_.send_slash_command("status", "U0ALICE", "C0INCIDENTS");
    ASSERT_TRUE(bot->wait_for_stderr("not repeated: Slack may have acted on it", kWait))
        << "the status answer's 503 is logged, not retried";
    bot->send_signal(SIGTERM);
    EXPECT_EQ(bot->wait_exit(kWait), 0) << bot->err();
    EXPECT_EQ(count_reports(), 2U) << "backend and frontend, once each";
    EXPECT_EQ(count_posts("runs PreSkool's rollback runbook"), 1U);
    EXPECT_LE(count_posts("rollbot status"), 1U);
    EXPECT_EQ(count_posts("requested by <@U0ALICE>"), 2U) << "each card once";
}

TEST_F(SlackFaults, ConnectionsOpenFailingBacksOffAndRecovers) {
    slack_.inject_fault("apps.connections.open",
                        FakeSlackFault::server_error(503, FakeSlackFault::kUntilCleared));
    auto bot = start();
    const auto first = std::chrono::steady_clock::now();
    ASSERT_TRUE(slack_.wait_for_call("apps.connections.open", 6, 60s)) << bot->err();
    const auto sixth = std::chrono::steady_clock::now();
    // With no backoff six calls take a few milliseconds; with it, the five pauses between them
    // (random in [0, 0.5 s], [0, 1 s], [0, 2 s], …) all being that short is a 1-in-5000 event.
    EXPECT_GT(sixth - first, 200ms) << "reconnects must back off, not spin";
    auto ready = http_get(listening_port(bot->err()).value_or(0), "/readyz");
    EXPECT_EQ(ready.status, 503);
    slack_.clear_faults("apps.connections.open");
    ASSERT_TRUE(slack_.wait_for_connections(1, 60s)) << "and it recovers once Slack does";
    const auto id = slack_.send_slash_command("status", "U0ALICE", "C0INCIDENTS");
    ASSERT_TRUE(slack_.wait_for_ack(id, kWait));
    bot->send_signal(SIGTERM);
    EXPECT_EQ(bot->wait_exit(kWait), 0);
}

}  // namespace
}  // namespace rollbot::test
