// DB downgrade approvals through the fake Slack: real reaction_added envelopes on the bot's
// approval card, from the requester, a non-approver and a DBA; reject, expiry, duplicates,
// a kill and restart between request and approval, and a 429 storm on posting.
#include "test/support/child_process.hpp"
#include "test/support/daemon_config.hpp"
#include "test/support/fake_http_server.hpp"
#include "test/support/fake_prometheus.hpp"
#include "test/support/fake_slack_server.hpp"
#include "test/support/temp_dir.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <fstream>

namespace rollbot::test {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr auto kWait = 20s;

class SlackApproval : public ::testing::Test {
protected:
    void SetUp() override {
        slack_.add_user({"U0ALICE", "alice"});
        slack_.add_user({"U0BOB", "bob"});
        slack_.add_user({"U0DAVE", "dave"});
        slack_.add_user({"U0HELPER", "helper-bot", true});
        slack_.add_usergroup("S0DBA", {"U0BOB", "U0HELPER"});
    }

    std::unique_ptr<ChildProcess> start(const std::string& timeout = "15m") {
        DaemonConfig settings{.dir = dir_.path().string(), .health_url = health_.url("/health")};
        settings.prometheus_url = health_.base_url();
        std::string config = daemon_config(settings);
        const std::string approvers = "approvers: {usergroups: [S0DBA]}";
        config.replace(
            config.find(approvers), approvers.size(), approvers + "\n    timeout: " + timeout);
        dir_.write("config.yaml", config);
        auto bot = std::make_unique<ChildProcess>(
            std::vector<std::string>{ROLLBOTD_PATH, "--config", dir_.file("config.yaml").string()},
            slack_.daemon_env());
        EXPECT_TRUE(slack_.wait_for_opened(++opened_, kWait));
        return bot;
    }

    // Asks for `/rollback db -1` as alice and returns the approval card's ts.
    std::string request_downgrade() {
        slack_.send_slash_command("db -1 --reason migration broke fees", "U0ALICE", "C0INCIDENTS");
        EXPECT_TRUE(slack_.wait_for_post("C0INCIDENTS", "Approval needed: DB downgrade -1", kWait));
        // The answer to the requester comes once the card is live (reactions count from then).
        EXPECT_TRUE(slack_.wait_for_post("", "needs approval: the card is in", kWait));
        for (const auto& p : slack_.posts()) {
            if (p.text.find("Approval needed") != std::string::npos) {
                return p.ts;
            }
        }
        return {};
    }

    std::string db_revision() const {
        std::ifstream in(dir_.file("cluster.json"));
        const auto state = nlohmann::json::parse(in, nullptr, false);
        return state.is_discarded() ? "" : state["alembic"].value("current", "none");
    }

    std::size_t count_posts(std::string_view text) const {
        std::size_t n = 0;
        for (const auto& p : slack_.posts()) {
            n += p.text.find(text) != std::string::npos ? 1U : 0U;
        }
        return n;
    }

    void slow_rollout(int ms) { ASSERT_TRUE(test::slow_rollout(dir_.path().string(), ms)); }

    void stop(ChildProcess& bot) {
        bot.send_signal(SIGTERM);
        EXPECT_EQ(bot.wait_exit(kWait), 0) << bot.err();
    }

    TempDir dir_;
    FakeHttpServer health_{fake_erp_handler()};  // health and Prometheus
    FakeSlackServer slack_;
    std::size_t opened_ = 0;
};

TEST_F(SlackApproval, RequesterAndNonApproverAndBotAreRefusedTheDbaRunsIt) {
    auto bot = start();
    const auto card = request_downgrade();
    ASSERT_FALSE(card.empty());
    slack_.send_reaction(true, "U0ALICE", "white_check_mark", "C0INCIDENTS", card);
    ASSERT_TRUE(slack_.wait_for_post("C0INCIDENTS", "Your reaction on R1 did not count", kWait));
    slack_.send_reaction(true, "U0DAVE", "white_check_mark", "C0INCIDENTS", card);
    slack_.send_reaction(true, "U0HELPER", "white_check_mark", "C0INCIDENTS", card);
    ASSERT_TRUE(slack_.wait_for_post("C0INCIDENTS", "<@U0DAVE> is not an approver", kWait));
    EXPECT_EQ(db_revision(), "3f2a1b4c5d6e");
    // On another message the DBA's reaction counts for nothing.
    slack_.send_reaction(true, "U0BOB", "white_check_mark", "C0INCIDENTS", "1700000000.000001");
    EXPECT_EQ(db_revision(), "3f2a1b4c5d6e");
    slack_.send_reaction(true, "U0BOB", "white_check_mark", "C0INCIDENTS", card);
    ASSERT_TRUE(slack_.wait_for_post("C0INCIDENTS", "⏪ ROLLBACK EXECUTED", kWait)) << bot->err();
    EXPECT_EQ(db_revision(), "ae1027a6acf");
    ASSERT_TRUE(slack_.wait_for_update("Executing", kWait)) << "the card is edited in place";
    stop(*bot);
    EXPECT_THAT(bot->err(), HasSubstr("rule=bot"));
}

TEST_F(SlackApproval, RejectRunsNothing) {
    auto bot = start();
    const auto card = request_downgrade();
    slack_.send_reaction(true, "U0BOB", "x", "C0INCIDENTS", card);
    ASSERT_TRUE(slack_.wait_for_update("Rejected", kWait));
    const auto updates_at_reject = slack_.updates().size();
    // An approval after the reject must not reopen the request.
    const auto approve =
        slack_.send_reaction(true, "U0BOB", "white_check_mark", "C0INCIDENTS", card);
    ASSERT_TRUE(slack_.wait_for_ack(approve, kWait));
    // rollbotd reads envelopes in order and dispatches each as it acks it, so once a later
    // command is answered the approval has been dispatched; a stop then waits for its handling.
    slack_.send_slash_command("status", "U0ALICE", "C0INCIDENTS");
    ASSERT_TRUE(slack_.wait_for_post("C0INCIDENTS", "*rollbot status*", kWait)) << bot->err();
    stop(*bot);
    std::size_t statuses = 0;
    for (const auto& p : slack_.posts()) {
        if (p.text.find("*rollbot status*") != std::string::npos) {
            ++statuses;
            EXPECT_THAT(p.text, HasSubstr("No rollback is running.")) << "nothing was reopened";
        }
    }
    EXPECT_EQ(statuses, 1U);
    const auto updates = slack_.updates();
    EXPECT_EQ(updates.size(), updates_at_reject) << "the card is not edited again";
    ASSERT_FALSE(updates.empty());
    EXPECT_THAT(updates.back().text, HasSubstr("Rejected"));
    EXPECT_EQ(db_revision(), "3f2a1b4c5d6e");
    EXPECT_EQ(count_posts("ROLLBACK EXECUTED"), 0U);
}

TEST_F(SlackApproval, ExpiryClosesTheCard) {
    auto bot = start("1s");
    const auto card = request_downgrade();
    ASSERT_TRUE(slack_.wait_for_update("Expired", kWait));
    slack_.send_reaction(true, "U0BOB", "white_check_mark", "C0INCIDENTS", card);
    stop(*bot);
    EXPECT_EQ(db_revision(), "3f2a1b4c5d6e");
}

TEST_F(SlackApproval, DuplicateReactionEventIsHandledOnce) {
    slack_.add_usergroup("S0DBA", {"U0BOB", "U0DAVE"});
    auto bot = start();
    const auto card = request_downgrade();
    slack_.send_reaction(true, "U0DAVE", "x", "C0INCIDENTS", card, "Ev0DUP", 0);
    ASSERT_TRUE(slack_.wait_for_update("Rejected", kWait));
    // The same event again (Slack delivers at least once, and retries).
    slack_.send_reaction(true, "U0DAVE", "x", "C0INCIDENTS", card, "Ev0DUP", 1);
    slack_.send_slash_command("status", "U0ALICE", "C0INCIDENTS");
    ASSERT_TRUE(slack_.wait_for_post("", "backend", kWait));
    stop(*bot);
    std::size_t rejected = 0;
    for (const auto& u : slack_.updates()) {
        rejected += u.text.find("Rejected") != std::string::npos ? 1U : 0U;
    }
    EXPECT_EQ(rejected, 1U);
    EXPECT_EQ(db_revision(), "3f2a1b4c5d6e");
}

TEST_F(SlackApproval, KilledAndRestartedBetweenRequestAndApproval) {
    auto first = start();
    const auto card = request_downgrade();
    ASSERT_FALSE(card.empty());
    first->send_signal(SIGKILL);
    ASSERT_TRUE(first->wait_exit(kWait).has_value());
    auto second = start();
    ASSERT_TRUE(slack_.wait_for_update("still waiting", kWait)) << second->err();
    slack_.send_reaction(true, "U0BOB", "white_check_mark", "C0INCIDENTS", card);
    ASSERT_TRUE(slack_.wait_for_post("C0INCIDENTS", "⏪ ROLLBACK EXECUTED", kWait)) << second->err();
    stop(*second);
    EXPECT_EQ(db_revision(), "ae1027a6acf");
}

TEST_F(SlackApproval, RateLimitStormOnPostingStillDeliversTheCardAndTheReport) {
    auto bot = start();
    slack_.inject_fault("chat.postMessage", FakeSlackFault::rate_limited(1s, 2));
    const auto card = request_downgrade();
    ASSERT_FALSE(card.empty());
    slack_.inject_fault("chat.postMessage", FakeSlackFault::rate_limited(1s, 2));
    slack_.send_reaction(true, "U0BOB", "white_check_mark", "C0INCIDENTS", card);
    ASSERT_TRUE(slack_.wait_for_post("C0INCIDENTS", "⏪ ROLLBACK EXECUTED", kWait)) << bot->err();
    stop(*bot);
    EXPECT_EQ(count_posts("⏪ ROLLBACK EXECUTED"), 1U) << "never posted twice";
    EXPECT_EQ(count_posts("Approval needed"), 1U);
}

TEST_F(SlackApproval, ReportWaitsInTheOutboxWhileSlackFailsAndIsPostedOnce) {
    slow_rollout(1500);
    auto bot = start();
    slack_.send_slash_command("backend abc1234f --reason outbox", "U0ALICE", "C0INCIDENTS");
    ASSERT_TRUE(slack_.wait_for_update("running step 2/2", kWait));
    slack_.inject_fault("chat.postMessage",
                        FakeSlackFault::server_error(503, FakeSlackFault::kUntilCleared));
    // The second step's line fails first; the report is stored and waits behind it, in order.
    ASSERT_TRUE(bot->wait_for_stderr("outbox.delivery_failed key=R1/step2", kWait));
    ASSERT_TRUE(bot->wait_for_stderr("outbox.queued key=R1/report", kWait));
    ASSERT_TRUE(bot->wait_for_stderr("attempt=2", kWait)) << "retried, after a pause";
    slack_.clear_faults("chat.postMessage");
    ASSERT_TRUE(slack_.wait_for_post("C0INCIDENTS", "⏪ ROLLBACK EXECUTED", kWait)) << bot->err();
    stop(*bot);
    EXPECT_EQ(count_posts("⏪ ROLLBACK EXECUTED"), 1U);
    EXPECT_EQ(count_posts("successfully rolled out"), 1U);
    std::size_t step_at = 0;
    std::size_t report_at = 0;
    const auto posts = slack_.posts();
    for (std::size_t i = 0; i < posts.size(); ++i) {
        step_at = posts[i].text.find("successfully rolled out") != std::string::npos ? i : step_at;
        report_at = posts[i].text.find("ROLLBACK EXECUTED") != std::string::npos ? i : report_at;
    }
    EXPECT_LT(step_at, report_at) << "delivered in the order they were written";
}

TEST_F(SlackApproval, SigtermDeliversWhatTheOutboxHoldsBeforeExiting) {
    slow_rollout(1500);
    auto bot = start();
    slack_.send_slash_command("backend abc1234f --reason flush", "U0ALICE", "C0INCIDENTS");
    ASSERT_TRUE(slack_.wait_for_update("running step 2/2", kWait));
    slack_.inject_fault("chat.postMessage",
                        FakeSlackFault::server_error(503, FakeSlackFault::kUntilCleared));
    ASSERT_TRUE(bot->wait_for_stderr("outbox.queued key=R1/report", kWait));
    // The pump now waits seconds before its next try; the stop must not wait for that, nor
    // leave the report behind.
    ASSERT_TRUE(bot->wait_for_stderr("attempt=2", kWait));
    slack_.clear_faults("chat.postMessage");
    stop(*bot);
    EXPECT_EQ(count_posts("⏪ ROLLBACK EXECUTED"), 1U) << bot->err();
    EXPECT_EQ(count_posts("successfully rolled out"), 1U);
    EXPECT_THAT(bot->err(), HasSubstr("daemon.shutdown_done outbox_drained=true left=0"));
}

TEST_F(SlackApproval, UndeliveredReportIsPostedAfterARestart) {
    slow_rollout(1500);
    auto first = start();
    slack_.send_slash_command("backend abc1234f --reason outbox", "U0ALICE", "C0INCIDENTS");
    ASSERT_TRUE(slack_.wait_for_update("running step 2/2", kWait));
    slack_.inject_fault("chat.postMessage",
                        FakeSlackFault::server_error(503, FakeSlackFault::kUntilCleared));
    ASSERT_TRUE(first->wait_for_stderr("outbox.queued key=R1/report", kWait));
    first->send_signal(SIGKILL);
    ASSERT_TRUE(first->wait_exit(kWait).has_value());
    slack_.clear_faults("chat.postMessage");
    auto second = start();
    ASSERT_TRUE(slack_.wait_for_post("C0INCIDENTS", "⏪ ROLLBACK EXECUTED", kWait)) << second->err();
    stop(*second);
    EXPECT_EQ(count_posts("⏪ ROLLBACK EXECUTED"), 1U);
    // The step line and the report; the verification too when it was stored before the kill.
    EXPECT_THAT(second->err(), ::testing::ContainsRegex("outbox.resuming undelivered=[23]"));
    EXPECT_THAT(second->err(), Not(HasSubstr("was interrupted"))) << "the run had finished";
}

}  // namespace
}  // namespace rollbot::test
