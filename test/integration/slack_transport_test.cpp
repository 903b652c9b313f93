// The real daemon against a fake Slack on 127.0.0.1: Socket Mode in, Web API out.
#include "test/support/child_process.hpp"
#include "test/support/daemon_config.hpp"
#include "test/support/fake_http_server.hpp"
#include "test/support/fake_prometheus.hpp"
#include "test/support/fake_slack_server.hpp"
#include "test/support/temp_dir.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>

namespace rollbot::test {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr auto kWait = 20s;
constexpr auto kAckWindow = 3s;  // Slack's: an ack later than this is an error for the user

class SlackTransport : public ::testing::Test {
protected:
    std::unique_ptr<ChildProcess> start(FakeSlackServer& slack,
                                        DaemonConfig config = {},
                                        std::vector<std::string> args = {}) {
        config.dir = dir_.path().string();
        config.health_url = health_.url("/api/v1/health");
        config.prometheus_url = health_.base_url();
        if (slack.options().tls) {
            config.ca_file = FakeSlackServer::ca_file();
        }
        dir_.write("config.yaml", daemon_config(config));
        std::vector<std::string> argv{ROLLBOTD_PATH, "--config", dir_.file("config.yaml").string()};
        argv.insert(argv.end(), args.begin(), args.end());
        return std::make_unique<ChildProcess>(argv, slack.daemon_env());
    }

    static void add_people(FakeSlackServer& slack) {
        slack.add_user({"U0ALICE", "alice"});
        slack.add_user({"U0BOB", "bob"});
        slack.add_user({"U0DAVE", "dave"});
        slack.add_usergroup("S0DBA", {"U0BOB"});
    }

    static std::size_t count_posts(const FakeSlackServer& slack, std::string_view text) {
        std::size_t n = 0;
        for (const auto& p : slack.posts()) {
            n += p.text.find(text) != std::string::npos ? 1U : 0U;
        }
        return n;
    }

    TempDir dir_;
    FakeHttpServer health_{fake_erp_handler()};  // health and Prometheus
};

TEST_F(SlackTransport, SlashCommandIsAckedInTimeAndAnswered) {
    FakeSlackServer slack;
    add_people(slack);
    auto bot = start(slack);
    ASSERT_TRUE(slack.wait_for_connections(1, kWait));
    const auto id = slack.send_slash_command("help", "U0ALICE", "C0INCIDENTS");
    ASSERT_TRUE(slack.wait_for_ack(id, kWait));
    const auto latency = slack.ack_latency(id);
    ASSERT_TRUE(latency.has_value());
    EXPECT_LT(*latency, kAckWindow);
    ASSERT_TRUE(slack.wait_for_post("", "runs PreSkool's rollback runbook", kWait));
    const auto posts = slack.posts();
    ASSERT_FALSE(posts.empty());
    EXPECT_EQ(posts.back().method, "response_url");
    EXPECT_EQ(posts.back().response_type, "ephemeral");
    bot->send_signal(SIGTERM);
    EXPECT_EQ(bot->wait_exit(kWait), 0) << bot->err();
    const auto conns = slack.connections();
    ASSERT_EQ(conns.size(), 1U);
    EXPECT_TRUE(conns[0].client_close_frame) << "a clean stop says goodbye with a close frame";
}

TEST_F(SlackTransport, BackendRollbackEndsInRollbackExecuted) {
    FakeSlackServer slack;
    add_people(slack);
    auto bot = start(slack);
    ASSERT_TRUE(slack.wait_for_connections(1, kWait));
    slack.send_slash_command(
        "backend abc1234f --reason error rate spike", "U0ALICE", "C0INCIDENTS");
    ASSERT_TRUE(slack.wait_for_post("C0INCIDENTS", "⏪ ROLLBACK EXECUTED", kWait));
    std::string executed;
    std::string card_ts;
    for (const auto& p : slack.posts()) {
        if (p.text.find("ROLLBACK EXECUTED") != std::string::npos) {
            executed = p.text;
            EXPECT_EQ(p.method, "chat.postMessage");
            EXPECT_TRUE(p.thread_ts.empty()) << "the report goes to the channel itself";
        }
        if (p.text.find("requested by <@U0ALICE>") != std::string::npos) {
            card_ts = p.ts;
        }
    }
    EXPECT_THAT(executed, HasSubstr("Rolled back from: e4d5c6b7\nRolled back to:   abc1234f"));
    EXPECT_THAT(executed, HasSubstr("On-Call: <@U0ALICE>"));
    ASSERT_FALSE(card_ts.empty());
    EXPECT_EQ(count_posts(slack, "successfully rolled out"), 1U);
    for (const auto& p : slack.posts()) {
        if (p.text.find("successfully rolled out") != std::string::npos) {
            EXPECT_EQ(p.thread_ts, card_ts) << "step results go into the request's thread";
        }
    }
    ASSERT_TRUE(slack.wait_for_update("✅ done", kWait)) << "the request card is edited in place";
    // The verification and the time table go into the report's own thread.
    std::string executed_ts;
    std::string verification_thread;
    for (const auto& p : slack.posts()) {
        if (p.text.find("ROLLBACK EXECUTED") != std::string::npos) {
            executed_ts = p.ts;
        }
        if (p.text.find("Post-rollback verification") != std::string::npos) {
            verification_thread = p.thread_ts;
            EXPECT_THAT(p.text, HasSubstr("*Verdict:* ✅ Service restored"));
            EXPECT_THAT(p.text, HasSubstr("⏱ *Time to rollback* (runbook targets)"));
        }
    }
    ASSERT_FALSE(executed_ts.empty());
    EXPECT_EQ(verification_thread, executed_ts);
}

TEST_F(SlackTransport, RefreshIsMakeBeforeBreakAndLosesNoCommand) {
    FakeSlackServer slack;
    add_people(slack);
    auto bot = start(slack);
    ASSERT_TRUE(slack.wait_for_connections(1, kWait));
    std::vector<std::string> sent;
    for (int i = 0; i < 5; ++i) {
        sent.push_back(slack.send_slash_command("help", "U0ALICE", "C0INCIDENTS", "/rollback", 1));
    }
    slack.send_disconnect("warning", 1);
    for (int i = 0; i < 5; ++i) {  // still flowing on the old socket during the swap
        sent.push_back(slack.send_slash_command("help", "U0DAVE", "C0INCIDENTS", "/rollback", 1));
    }
    ASSERT_TRUE(slack.wait_for_opened(2, kWait));
    ASSERT_TRUE(slack.wait_for_connections(1, kWait)) << "the old socket is closed after hello";
    for (int i = 0; i < 5; ++i) {
        sent.push_back(slack.send_slash_command("help", "U0BOB", "C0INCIDENTS"));
    }
    for (const auto& id : sent) {
        ASSERT_TRUE(slack.wait_for_ack(id, kWait));
    }
    ASSERT_TRUE(slack.wait_for_call("response_url", sent.size(), kWait));
    EXPECT_EQ(count_posts(slack, "runs PreSkool's rollback runbook"), sent.size())
        << "every command answered exactly once";
    const auto conns = slack.connections();
    ASSERT_EQ(conns.size(), 2U);
    EXPECT_TRUE(conns[0].client_close_frame) << "the old socket is closed with a close frame";
    ASSERT_TRUE(conns[0].closed_at.has_value());
    EXPECT_GE(*conns[0].closed_at, conns[1].opened_at) << "make before break";
}

TEST_F(SlackTransport, AbruptCloseReconnectsAndKeepsWorking) {
    FakeSlackServer slack;
    add_people(slack);
    auto bot = start(slack);
    ASSERT_TRUE(slack.wait_for_connections(1, kWait));
    slack.drop_connection(FakeSlackServer::kLatest, FakeSlackDrop::Reset);
    ASSERT_TRUE(slack.wait_for_opened(2, kWait));
    ASSERT_TRUE(slack.wait_for_connections(1, kWait));
    const auto id = slack.send_slash_command("status", "U0ALICE", "C0INCIDENTS");
    ASSERT_TRUE(slack.wait_for_ack(id, kWait));
    ASSERT_TRUE(slack.wait_for_post("", "rollbot status", kWait));
    EXPECT_TRUE(bot->wait_for_stderr("slack.disconnected", kWait));
    EXPECT_EQ(slack.connections_opened(), 2U) << "one reconnect, not a storm";
}

TEST_F(SlackTransport, DeadLinkIsDetectedByPingsAndReplaced) {
    FakeSlackServer slack;
    add_people(slack);
    auto bot = start(slack, DaemonConfig{.liveness_timeout = "2s"});
    ASSERT_TRUE(slack.wait_for_connections(1, kWait));
    slack.stop_reading();  // the peer stops answering pings, as a half-open socket would
    ASSERT_TRUE(slack.wait_for_opened(2, kWait));
    const auto id = slack.send_slash_command("help", "U0ALICE", "C0INCIDENTS");
    ASSERT_TRUE(slack.wait_for_ack(id, kWait));
}

TEST_F(SlackTransport, MalformedFramesAreAckedWhenPossibleAndChangeNothing) {
    FakeSlackServer slack;
    add_people(slack);
    auto bot = start(slack);
    ASSERT_TRUE(slack.wait_for_connections(1, kWait));
    slack.send_text("this is not json");
    slack.send_binary(std::string("\x00\x01\x02", 3));
    slack.send_text(R"({"envelope_id":"E-UNKNOWN","type":"brand_new_type","payload":{}})");
    slack.send_text(R"({"envelope_id":"E-NOPAYLOAD","type":"slash_commands"})");
    slack.send_text(R"({"envelope_id":"E-BADTYPES","type":"slash_commands","payload":)"
                    R"({"user_id":42,"channel_id":["C0INCIDENTS"],"command":"/rollback"}})");
    slack.send_text(std::string(600 * 1024, ' ') + R"({"envelope_id":"E-HUGE"})");
    for (const char* id : {"E-UNKNOWN", "E-NOPAYLOAD", "E-BADTYPES"}) {
        EXPECT_TRUE(slack.wait_for_ack(id, kWait)) << "every envelope is acknowledged: " << id;
    }
    const auto id = slack.send_slash_command("help", "U0ALICE", "C0INCIDENTS");
    ASSERT_TRUE(slack.wait_for_ack(id, kWait));
    ASSERT_TRUE(slack.wait_for_post("", "runs PreSkool's rollback runbook", kWait));
    EXPECT_EQ(slack.connections_opened(), 1U) << "bad frames do not disturb the connection";
    EXPECT_TRUE(bot->wait_for_stderr("slack.frame_ignored", kWait));
}

TEST_F(SlackTransport, DuplicateDeliveriesAreHandledOnce) {
    FakeSlackServer slack;
    add_people(slack);
    auto bot = start(slack);
    ASSERT_TRUE(slack.wait_for_connections(1, kWait));
    std::string respond_url = slack.api_url();
    respond_url.replace(respond_url.rfind("api/"), 4, "respond/dup");
    const std::string envelope =
        R"({"envelope_id":"E-DUP","type":"slash_commands","accepts_response_payload":true,)"
        R"("payload":{"user_id":"U0ALICE","user_name":"alice","channel_id":"C0INCIDENTS",)"
        R"("command":"/rollback","text":"help","response_url":")" +
        respond_url + R"("}})";
    slack.send_text(envelope);
    slack.send_text(envelope);
    // A reaction event delivered, then retried by Slack: seen once, retries are not dropped.
    slack.send_reaction(true, "U0BOB", "white_check_mark", "C0INCIDENTS", "1.000001", "Ev-DUP");
    slack.send_reaction(true, "U0BOB", "white_check_mark", "C0INCIDENTS", "1.000001", "Ev-DUP", 1);
    const auto after = slack.send_slash_command("status", "U0ALICE", "C0INCIDENTS");
    ASSERT_TRUE(slack.wait_for_ack(after, kWait));
    ASSERT_TRUE(slack.wait_for_post("", "rollbot status", kWait));
    EXPECT_EQ(count_posts(slack, "runs PreSkool's rollback runbook"), 1U);
    EXPECT_TRUE(bot->wait_for_stderr("slack.event_retry event_id=Ev-DUP attempt=1", kWait));
}

TEST_F(SlackTransport, RateLimitedPostsStillArrive) {
    FakeSlackServer slack;
    add_people(slack);
    slack.inject_fault("chat.postMessage", FakeSlackFault::rate_limited(1s, 3));
    auto bot = start(slack);
    ASSERT_TRUE(slack.wait_for_connections(1, kWait));
    slack.send_slash_command("backend --reason slow", "U0ALICE", "C0INCIDENTS");
    ASSERT_TRUE(slack.wait_for_post("C0INCIDENTS", "⏪ ROLLBACK EXECUTED", kWait));
    std::size_t limited = 0;
    for (const auto& c : slack.calls()) {
        limited += c.method == "chat.postMessage" && c.status == 429 ? 1U : 0U;
    }
    EXPECT_EQ(limited, 3U);
}

TEST_F(SlackTransport, FatalAuthErrorStopsReconnectingAndSaysWhy) {
    FakeSlackServer slack;
    slack.inject_fault("apps.connections.open",
                       FakeSlackFault::slack_error("invalid_auth", FakeSlackFault::kUntilCleared));
    auto bot = start(slack);
    ASSERT_TRUE(bot->wait_for_stderr("slack.fatal", kWait));
    EXPECT_THAT(bot->err(), HasSubstr("invalid_auth"));
    bot->send_signal(SIGTERM);
    EXPECT_EQ(bot->wait_exit(kWait), 0);
    std::size_t opens = 0;
    for (const auto& c : slack.calls()) {
        opens += c.method == "apps.connections.open" ? 1U : 0U;
    }
    EXPECT_EQ(opens, 1U) << "never retried in a loop";
    EXPECT_EQ(slack.connections_opened(), 0U);
}

TEST_F(SlackTransport, LinkDisabledIsFatal) {
    FakeSlackServer slack;
    auto bot = start(slack);
    ASSERT_TRUE(slack.wait_for_connections(1, kWait));
    slack.send_disconnect("link_disabled");
    ASSERT_TRUE(bot->wait_for_stderr("slack.fatal", kWait));
    ASSERT_TRUE(slack.wait_for_connections(0, kWait));
    bot->send_signal(SIGTERM);
    EXPECT_EQ(bot->wait_exit(kWait), 0);
    EXPECT_EQ(slack.connections_opened(), 1U);
}

TEST_F(SlackTransport, TooManyWebsocketsClosesFirstThenReconnects) {
    FakeSlackServer slack;
    add_people(slack);
    auto bot = start(slack);
    ASSERT_TRUE(slack.wait_for_connections(1, kWait));
    slack.send_disconnect("too_many_websockets");
    ASSERT_TRUE(slack.wait_for_opened(2, kWait));
    const auto conns = slack.connections();
    ASSERT_EQ(conns.size(), 2U);
    ASSERT_TRUE(conns[0].closed_at.has_value());
    EXPECT_LE(*conns[0].closed_at, conns[1].opened_at) << "break before make on this reason";
}

TEST_F(SlackTransport, WorksOverTlsWithTheConfiguredCa) {
    FakeSlackServer slack(FakeSlackOptions{.tls = true});
    add_people(slack);
    auto bot = start(slack);
    ASSERT_TRUE(slack.wait_for_connections(1, kWait)) << bot->err();
    const auto id = slack.send_slash_command("help", "U0ALICE", "C0INCIDENTS");
    ASSERT_TRUE(slack.wait_for_ack(id, kWait));
    ASSERT_TRUE(slack.wait_for_post("", "runs PreSkool's rollback runbook", kWait));
}

TEST_F(SlackTransport, TlsWithoutTheCaIsRefused) {
    FakeSlackServer slack(FakeSlackOptions{.tls = true});
    DaemonConfig config;
    config.dir = dir_.path().string();
    config.health_url = health_.url("/");
    dir_.write("config.yaml", daemon_config(config));
    ChildProcess bot({ROLLBOTD_PATH, "--config", dir_.file("config.yaml").string()},
                     slack.daemon_env());
    ASSERT_TRUE(bot.wait_for_stderr("SSL certificate problem", kWait));
    ASSERT_TRUE(bot.wait_for_stderr("slack.reconnect_wait attempt=2", kWait)) << "backs off";
    EXPECT_EQ(slack.connections_opened(), 0U);
}

TEST_F(SlackTransport, AccessRulesApplyToRealIds) {
    FakeSlackServer slack;
    add_people(slack);
    slack.add_user({"U0BOT", "otherbot", true});
    auto bot = start(slack);
    ASSERT_TRUE(slack.wait_for_connections(1, kWait));
    slack.send_slash_command("backend", "U0ALICE", "C0RANDOM");
    slack.send_slash_command("backend", "U0DAVE", "C0INCIDENTS");
    slack.send_slash_command("status", "U0BOT", "C0INCIDENTS");
    ASSERT_TRUE(slack.wait_for_post("", "takes commands only in <#C0INCIDENTS>", kWait));
    ASSERT_TRUE(slack.wait_for_post("", "only rollbot operators may run a rollback", kWait));
    ASSERT_TRUE(slack.wait_for_post("", "commands from bots are ignored", kWait));
    for (const auto& p : slack.posts()) {
        EXPECT_EQ(p.method, "response_url") << "refusals are ephemeral: " << p.text;
        EXPECT_EQ(p.response_type, "ephemeral");
    }
}

TEST_F(SlackTransport, NoTokenTicketOrResponseUrlReachesTheLog) {
    FakeSlackServer slack;
    add_people(slack);
    auto bot = start(slack, {}, {"--log-level", "trace"});
    ASSERT_TRUE(slack.wait_for_connections(1, kWait));
    slack.send_slash_command("backend --reason log check", "U0ALICE", "C0INCIDENTS");
    ASSERT_TRUE(slack.wait_for_post("C0INCIDENTS", "ROLLBACK EXECUTED", kWait));
    slack.send_disconnect("refresh_requested");
    ASSERT_TRUE(slack.wait_for_opened(2, kWait));
    bot->send_signal(SIGTERM);
    ASSERT_EQ(bot->wait_exit(kWait), 0);
    const std::string log = bot->err() + bot->out();
    EXPECT_THAT(log, HasSubstr("slack.connected"));
    EXPECT_THAT(log, Not(HasSubstr(slack.options().app_token)));
    EXPECT_THAT(log, Not(HasSubstr(slack.options().bot_token)));
    EXPECT_THAT(log, Not(HasSubstr("xoxb-test")));
    EXPECT_THAT(log, Not(HasSubstr("ticket=")));
    EXPECT_THAT(log, Not(HasSubstr("/respond/")));
}

}  // namespace
}  // namespace rollbot::test
