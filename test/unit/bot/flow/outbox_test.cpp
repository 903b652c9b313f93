// The outbox: reports stored before they are sent, delivered in order, retried with a growing
// pause on the manual clock, and resumed by a second Outbox over the same store (a restart).
#include "bot/flow/outbox.hpp"

#include "test/support/flow_harness.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace rollbot::test {
namespace {

namespace asio = boost::asio;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using namespace std::chrono_literals;

core::OutboundMessage message(std::string text) {
    return core::OutboundMessage{
        core::ChannelId{std::string(FlowHarness::kChannel)}, std::nullopt, std::move(text)};
}

/// Posts each text in turn (waiting for each), keeping what post() answered.
asio::awaitable<void> post_all(core::Outbox* outbox,
                               std::vector<std::string> texts,
                               std::vector<core::Result<core::MessageRef>>* results) {
    for (auto& text : texts) {
        auto posted = co_await outbox->post(message(text), "test/" + text);
        results->push_back(std::move(posted));
    }
}

/// Queues each text for background delivery, noting what the chat had accepted by the time the
/// last one was queued.
asio::awaitable<void> post_all_later(core::Outbox* outbox,
                                     std::vector<std::string> texts,
                                     const FakeChat* chat,
                                     std::size_t* posted_meanwhile) {
    for (auto& text : texts) {
        co_await outbox->post_later(message(text), "test/" + text);
    }
    *posted_meanwhile = chat->posts().size();
}

asio::awaitable<void> drain_into(core::Outbox* outbox,
                                 std::chrono::milliseconds within,
                                 std::optional<bool>* drained) {
    *drained = co_await outbox->drain(within);
}

core::Error rate_limited(std::chrono::milliseconds retry_after) {
    core::Error e{core::ErrorKind::RateLimited, "slack.chat.postMessage: ratelimited"};
    e.http_status = 429;
    e.retry_after = retry_after;
    return e;
}

/// An earlier run of the daemon over the same store, with its own loop: destroying it is the
/// crash (its coroutines go with its io_context, never resumed).
struct EarlierDaemon {
    explicit EarlierDaemon(FlowHarness& h)
        : tasks(io.get_executor(), h.log), outbox(tasks, h.chat, h.store, h.clock, h.log) {}
    void run() {
        io.restart();
        while (io.poll() > 0) {
        }
    }
    /// Stores one message the way post() begins, and stops there (killed before sending).
    core::Outbox::Ticket store_only(core::OutboundMessage message, std::string key) {
        auto ticket = std::make_shared<std::optional<core::Outbox::Ticket>>();
        tasks.spawn(
            "test",
            [](core::Outbox* box,
               core::OutboundMessage m,
               std::string k,
               std::shared_ptr<std::optional<core::Outbox::Ticket>> out) -> asio::awaitable<void> {
                out->emplace(co_await box->store(std::move(m), std::move(k)));
            }(&outbox, std::move(message), std::move(key), ticket));
        run();
        EXPECT_TRUE(ticket->has_value());
        return ticket->value_or(core::Outbox::Ticket{});
    }
    asio::io_context io;
    core::TaskGroup tasks;
    core::Outbox outbox;
};

class OutboxTest : public ::testing::Test {
protected:
    /// Texts of the messages the chat accepted, in order.
    [[nodiscard]] std::vector<std::string> delivered() const {
        std::vector<std::string> out;
        for (const auto& p : h.chat.posts()) {
            if (!p.failed) {
                out.push_back(p.message.text);
            }
        }
        return out;
    }
    /// Every post the chat saw, accepted or not.
    [[nodiscard]] std::size_t attempts() const { return h.chat.posts().size(); }
    /// Texts the store still holds undelivered, in order.
    [[nodiscard]] std::vector<std::string> stored() {
        std::vector<std::string> out;
        auto pending = h.sqlite->outbox_pending();
        EXPECT_TRUE(pending.has_value());
        if (pending) {
            for (const auto& e : *pending) {
                out.push_back(e.text);
            }
        }
        return out;
    }
    void post(std::vector<std::string> texts) {
        h.spawn(post_all(&outbox, std::move(texts), &results));
    }

    FlowHarness h;
    core::Outbox outbox{h.tasks, h.chat, h.store, h.clock, h.log};
    std::vector<core::Result<core::MessageRef>> results;
};

TEST_F(OutboxTest, DeliversInOrderAndEachAnswerSaysWhereItLanded) {
    post({"card", "step 1", "report"});
    EXPECT_THAT(delivered(), ElementsAre("card", "step 1", "report"));
    ASSERT_EQ(results.size(), 3U);
    for (std::size_t i = 0; i < results.size(); ++i) {
        ASSERT_TRUE(results[i].has_value()) << i;
        EXPECT_EQ(results[i]->ts, h.chat.posts()[i].ts);
    }
    EXPECT_THAT(stored(), IsEmpty());
    EXPECT_EQ(outbox.depth(), 0U);
}

TEST_F(OutboxTest, AFailedMessageStaysQueuedAndTheLaterOnesWaitBehindIt) {
    h.chat.fail_posts(1);
    post({"card", "step 1", "report"});

    ASSERT_EQ(results.size(), 3U);
    ASSERT_FALSE(results[0].has_value());
    EXPECT_EQ(results[0].error().message, "503");
    for (std::size_t i = 1; i < 3; ++i) {
        ASSERT_FALSE(results[i].has_value());
        EXPECT_THAT(results[i].error().message, HasSubstr("queued behind"));
        EXPECT_EQ(results[i].error().kind, core::ErrorKind::Unavailable);
    }
    EXPECT_EQ(attempts(), 1U);  // nothing overtook the failed card
    EXPECT_THAT(delivered(), IsEmpty());
    EXPECT_THAT(stored(), ElementsAre("card", "step 1", "report"));
    EXPECT_EQ(outbox.depth(), 3U);
    EXPECT_THAT(h.logs(), HasSubstr("outbox.delivery_failed key=test/card seq=1 attempt=1"));
    EXPECT_THAT(h.logs(), HasSubstr("outbox.queued key=test/report seq=3 behind=2"));

    h.advance(1s);
    EXPECT_THAT(delivered(), ElementsAre("card", "step 1", "report"));
    EXPECT_THAT(stored(), IsEmpty());
    EXPECT_EQ(outbox.depth(), 0U);
}

TEST_F(OutboxTest, RetriesPauseOneTwoFourSecondsOnTheClock) {
    h.chat.fail_posts(3);
    post({"report"});
    ASSERT_EQ(attempts(), 1U);

    const std::vector<std::chrono::milliseconds> pauses{1s, 2s, 4s};
    for (std::size_t i = 0; i < pauses.size(); ++i) {
        h.advance(pauses[i] - 1ms);
        EXPECT_EQ(attempts(), i + 1) << "retried early, before a pause of " << pauses[i].count();
        h.advance(1ms);
        EXPECT_EQ(attempts(), i + 2) << "not retried after a pause of " << pauses[i].count();
    }
    EXPECT_THAT(delivered(), ElementsAre("report"));
    EXPECT_THAT(h.logs(), HasSubstr("attempt=3"));
    h.advance(10min);
    EXPECT_EQ(attempts(), 4U);  // delivered: never posted again
}

TEST_F(OutboxTest, TheRetryPauseDoublesUpToAMinute) {
    EXPECT_EQ(core::Outbox::retry_pause(1), 1s);
    EXPECT_EQ(core::Outbox::retry_pause(2), 2s);
    EXPECT_EQ(core::Outbox::retry_pause(3), 4s);
    EXPECT_EQ(core::Outbox::retry_pause(6), 32s);
    EXPECT_EQ(core::Outbox::retry_pause(7), 60s);
    EXPECT_EQ(core::Outbox::retry_pause(50), 60s);
}

TEST_F(OutboxTest, ARetryAfterFromA429OnARetryIsHonoured) {
    h.chat.fail_posts(1);
    post({"report"});
    h.chat.fail_posts(1, rate_limited(30s));
    h.advance(1s);  // the first retry: Slack answers 429, Retry-After 30 s
    ASSERT_EQ(attempts(), 2U);

    h.advance(30s - 1ms);
    EXPECT_EQ(attempts(), 2U) << "retried before Slack's Retry-After";
    h.advance(1ms);
    h.advance(2s);  // at most the growing pause on top
    EXPECT_THAT(delivered(), ElementsAre("report"));
}

TEST_F(OutboxTest, ARetryAfterFromA429OnTheFirstAttemptIsHonoured) {
    h.chat.fail_posts(1, rate_limited(30s));
    post({"report"});  // posted directly: Slack answers 429, Retry-After 30 s
    ASSERT_EQ(attempts(), 1U);

    h.advance(30s - 1ms);
    EXPECT_EQ(attempts(), 1U) << "retried before Slack's Retry-After";
    h.advance(1ms);
    EXPECT_THAT(delivered(), ElementsAre("report"));
}

TEST_F(OutboxTest, DeliveredMessagesAreNotPostedAgain) {
    post({"card"});
    h.chat.fail_posts(1);
    post({"report"});
    h.advance(1s);
    EXPECT_THAT(delivered(), ElementsAre("card", "report"));

    h.advance(1h);
    EXPECT_EQ(h.chat.count_posts("card"), 1U);
    EXPECT_EQ(h.chat.count_posts("report"), 1U);

    // Nor after a restart: a second Outbox over the same store finds nothing to deliver.
    core::Outbox after_restart(h.tasks, h.chat, h.store, h.clock, h.log);
    h.spawn(after_restart.start());
    EXPECT_EQ(after_restart.depth(), 0U);
    EXPECT_EQ(h.chat.count_posts("card"), 1U);
    EXPECT_EQ(h.chat.count_posts("report"), 1U);
    EXPECT_THAT(h.logs(), Not(HasSubstr("outbox.resuming")));
}

TEST_F(OutboxTest, StartAfterARestartDeliversWhatWasLeftFirst) {
    {
        EarlierDaemon earlier(h);
        std::vector<core::Result<core::MessageRef>> earlier_results;
        std::vector<std::string> texts{"card", "report"};
        h.chat.fail_posts(100);  // Slack is down for the rest of the earlier daemon's life
        earlier.tasks.spawn("test", post_all(&earlier.outbox, std::move(texts), &earlier_results));
        earlier.run();
        ASSERT_EQ(earlier_results.size(), 2U);
        EXPECT_EQ(earlier.outbox.depth(), 2U);
    }  // killed
    h.chat.fail_posts(0);
    EXPECT_THAT(stored(), ElementsAre("card", "report"));

    h.spawn(outbox.start());
    EXPECT_EQ(outbox.depth(), 2U);
    EXPECT_THAT(h.logs(), HasSubstr("outbox.resuming undelivered=2"));
    post({"new after restart"});
    ASSERT_EQ(results.size(), 1U);
    EXPECT_FALSE(results[0].has_value());  // queued behind what was left

    h.advance(1s);  // the card had failed once before the restart
    EXPECT_THAT(delivered(), ElementsAre("card", "report", "new after restart"));
    EXPECT_EQ(outbox.depth(), 0U);
    EXPECT_THAT(stored(), IsEmpty());
}

TEST_F(OutboxTest, StartDeliversAtOnceWhatWasStoredButNeverTried) {
    {
        EarlierDaemon earlier(h);
        // Killed between storing the report and sending it.
        const auto ticket = earlier.store_only(message("report"), "R1/report");
        EXPECT_TRUE(ticket.stored);
    }
    h.spawn(outbox.start());
    EXPECT_THAT(delivered(), ElementsAre("report"));
    EXPECT_EQ(outbox.depth(), 0U);
}

TEST_F(OutboxTest, AMessageThatCannotBeStoredIsStillTriedOnce) {
    h.store.fail("outbox_add");
    post({"report"});
    EXPECT_THAT(delivered(), ElementsAre("report"));
    ASSERT_EQ(results.size(), 1U);
    EXPECT_TRUE(results[0].has_value());
    EXPECT_EQ(outbox.depth(), 0U);
    EXPECT_THAT(h.logs(), HasSubstr("outbox.not_stored key=test/report"));

    // Tried once only: with nothing stored there is nothing to retry.
    h.chat.fail_posts(1);
    post({"second report"});
    ASSERT_EQ(results.size(), 2U);
    EXPECT_FALSE(results[1].has_value());
    h.advance(10min);
    EXPECT_EQ(attempts(), 2U);
    EXPECT_EQ(outbox.depth(), 0U);
}

TEST_F(OutboxTest, DrainRetriesAtOnce) {
    h.chat.fail_posts(4);
    post({"report"});
    h.advance(1s);
    h.advance(2s);
    h.advance(4s);  // three retries failed: the next one is 8 s away
    ASSERT_EQ(attempts(), 4U);

    std::optional<bool> drained;
    h.tasks.spawn("drain", drain_into(&outbox, 10s, &drained), core::TaskGroup::Kind::Background);
    h.run();  // no time passes
    EXPECT_THAT(delivered(), ElementsAre("report"));
    ASSERT_TRUE(drained.has_value());
    EXPECT_TRUE(*drained);
    EXPECT_EQ(outbox.depth(), 0U);
}

TEST_F(OutboxTest, DrainIsTrueAtOnceWithNothingLeft) {
    post({"report"});
    std::optional<bool> drained;
    h.tasks.spawn("drain", drain_into(&outbox, 10s, &drained), core::TaskGroup::Kind::Background);
    h.run();
    ASSERT_TRUE(drained.has_value());
    EXPECT_TRUE(*drained);
}

TEST_F(OutboxTest, DrainIsFalseWhenTimeRunsOutAndWhatIsLeftStaysStored) {
    h.chat.fail_posts(1000);
    post({"card", "report"});

    std::optional<bool> drained;
    h.tasks.spawn("drain", drain_into(&outbox, 5s, &drained), core::TaskGroup::Kind::Background);
    h.run();
    EXPECT_EQ(attempts(), 2U);  // the card again, at once
    for (int i = 0; i < 19; ++i) {
        h.advance(250ms);
    }
    h.advance(249ms);
    EXPECT_FALSE(drained.has_value()) << "gave up before its time";
    EXPECT_GE(attempts(), 20U);  // kept trying all along, not waiting out the growing pause
    h.advance(1ms);
    ASSERT_TRUE(drained.has_value());
    EXPECT_FALSE(*drained);
    EXPECT_THAT(delivered(), IsEmpty());
    EXPECT_THAT(stored(), ElementsAre("card", "report"));
    EXPECT_EQ(outbox.depth(), 2U);
    EXPECT_THAT(h.logs(), HasSubstr("outbox.not_drained undelivered=2"));
}

TEST_F(OutboxTest, DepthFollowsWhatIsStoredAndNotDelivered) {
    EXPECT_EQ(outbox.depth(), 0U);
    h.chat.fail_posts(1);
    post({"card"});
    EXPECT_EQ(outbox.depth(), 1U);
    h.spawn(outbox.post_later(message("follow-up"), "test/follow-up"));
    EXPECT_EQ(outbox.depth(), 2U);
    post({"report"});
    EXPECT_EQ(outbox.depth(), 3U);
    h.advance(1s);
    EXPECT_EQ(outbox.depth(), 0U);
    EXPECT_THAT(delivered(), ElementsAre("card", "follow-up", "report"));
}

TEST_F(OutboxTest, PostLaterReturnsOnceStoredAndDeliversInTheBackgroundInOrder) {
    h.chat.fail_posts(1);  // Slack refuses the first try: post_later does not wait for it
    std::size_t posted_meanwhile = 99;
    h.spawn(post_all_later(&outbox, {"one", "two"}, &h.chat, &posted_meanwhile));
    EXPECT_LE(posted_meanwhile, 1U);  // both queued, at most the first one tried
    EXPECT_EQ(outbox.depth(), 2U);
    EXPECT_THAT(delivered(), IsEmpty());
    EXPECT_THAT(stored(), ElementsAre("one", "two"));

    h.advance(1s);
    EXPECT_THAT(delivered(), ElementsAre("one", "two"));
    EXPECT_EQ(outbox.depth(), 0U);
}

TEST_F(OutboxTest, ADeliveryTheStoreCannotMarkIsNotPostedAgainByThisProcess) {
    h.store.fail("outbox_delivered");  // a full disk: the mark is lost, the post is not
    h.chat.fail_posts(1);
    post({"report"});
    h.advance(1s);
    EXPECT_THAT(delivered(), ElementsAre("report"));
    EXPECT_THAT(h.logs(), HasSubstr("outbox.not_marked seq=1"));

    post({"next"});
    h.advance(1min);
    EXPECT_EQ(h.chat.count_posts("report"), 1U);
    EXPECT_THAT(delivered(), ElementsAre("report", "next"));
    EXPECT_EQ(outbox.depth(), 0U);
}

TEST_F(OutboxTest, ADirectDeliveryTheStoreCannotMarkIsNotPostedAgainWhenALaterOneFails) {
    h.store.fail("outbox_delivered");
    post({"report"});  // delivered at once; the mark is lost
    ASSERT_THAT(delivered(), ElementsAre("report"));
    h.chat.accept_at_most(5);  // ends a pump that would post the report again and again
    h.chat.fail_posts(1);
    post({"next"});  // fails: the pump starts
    h.advance(1s);
    EXPECT_EQ(h.chat.count_posts("report"), 1U);
    EXPECT_THAT(delivered(), ElementsAre("report", "next"));
    EXPECT_EQ(outbox.depth(), 0U);
}

}  // namespace
}  // namespace rollbot::test
