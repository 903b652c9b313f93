#include "adapters/slack/dedupe.hpp"

#include <gtest/gtest.h>

#include <string>

namespace rollbot::slack {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using Time = DedupeWindow::Clock::time_point;

const Time kT0 = Time{} + std::chrono::hours{1000};

TEST(DedupeWindow, FirstDeliveryPassesRepeatsDoNot) {
    DedupeWindow window;
    EXPECT_TRUE(window.first_time("Ev0PV52K21", kT0));
    EXPECT_FALSE(window.first_time("Ev0PV52K21", kT0));
    EXPECT_FALSE(window.first_time("Ev0PV52K21", kT0 + seconds{1}));
    EXPECT_TRUE(window.first_time("Ev0PV52K22", kT0 + seconds{1}));
    EXPECT_EQ(window.size(), 2U);
}

TEST(DedupeWindow, SlackRetryScheduleIsActedOnOnce) {
    // Original delivery, then retries right away, after ~1 min and ~5 min, some twice (§2.7).
    DedupeWindow window{minutes{10}};
    EXPECT_TRUE(window.first_time("Ev1", kT0));
    for (const auto at : {seconds{1}, seconds{60}, seconds{61}, seconds{300}, seconds{301}}) {
        EXPECT_FALSE(window.first_time("Ev1", kT0 + at)) << at.count();
    }
}

TEST(DedupeWindow, KeysExpireAfterTheWindow) {
    DedupeWindow window{minutes{10}};
    EXPECT_TRUE(window.first_time("a", kT0));
    EXPECT_FALSE(window.first_time("a", kT0 + minutes{10} - milliseconds{1}));
    EXPECT_TRUE(window.first_time("a", kT0 + minutes{10}));
    EXPECT_FALSE(window.first_time("a", kT0 + minutes{15}));
}

TEST(DedupeWindow, RepeatsDoNotExtendTheWindow) {
    DedupeWindow window{seconds{10}};
    EXPECT_TRUE(window.first_time("a", kT0));
    EXPECT_FALSE(window.first_time("a", kT0 + seconds{9}));
    EXPECT_TRUE(window.first_time("a", kT0 + seconds{10}));
}

TEST(DedupeWindow, ExpiryFreesMemory) {
    DedupeWindow window{seconds{10}};
    for (int i = 0; i < 100; ++i) {
        EXPECT_TRUE(window.first_time("k" + std::to_string(i), kT0 + milliseconds{i}));
    }
    EXPECT_EQ(window.size(), 100U);
    EXPECT_TRUE(window.first_time("late", kT0 + seconds{10} + milliseconds{50}));
    EXPECT_EQ(window.size(), 50U);  // k51..k99 and "late"
    EXPECT_FALSE(window.first_time("k99", kT0 + seconds{10} + milliseconds{50}));
    EXPECT_TRUE(window.first_time("k0", kT0 + seconds{10} + milliseconds{50}));
}

TEST(DedupeWindow, BoundEvictsOldestFirst) {
    DedupeWindow window{minutes{10}, 3};
    EXPECT_TRUE(window.first_time("a", kT0));
    EXPECT_TRUE(window.first_time("b", kT0 + seconds{1}));
    EXPECT_TRUE(window.first_time("c", kT0 + seconds{2}));
    EXPECT_TRUE(window.first_time("d", kT0 + seconds{3}));
    EXPECT_EQ(window.size(), 3U);
    EXPECT_FALSE(window.first_time("d", kT0 + seconds{4}));
    EXPECT_FALSE(window.first_time("c", kT0 + seconds{4}));
    EXPECT_FALSE(window.first_time("b", kT0 + seconds{4}));
    EXPECT_TRUE(window.first_time("a", kT0 + seconds{4}));  // evicted, so new again (evicts b)
    EXPECT_TRUE(window.first_time("b", kT0 + seconds{5}));
    EXPECT_EQ(window.size(), 3U);
}

TEST(DedupeWindow, StaysBoundedUnderAFlood) {
    DedupeWindow window{minutes{10}, 1000};
    for (int i = 0; i < 200000; ++i) {
        ASSERT_TRUE(window.first_time("Ev" + std::to_string(i), kT0 + milliseconds{i}));
        ASSERT_LE(window.size(), 1000U);
    }
    EXPECT_FALSE(window.first_time("Ev199999", kT0 + seconds{200}));
    EXPECT_TRUE(window.first_time("Ev0", kT0 + seconds{200}));
}

TEST(DedupeWindow, EmptyKeyIsAlwaysFirstAndNotRemembered) {
    DedupeWindow window;
    EXPECT_TRUE(window.first_time("", kT0));
    EXPECT_TRUE(window.first_time("", kT0));
    EXPECT_EQ(window.size(), 0U);
}

TEST(DedupeWindow, ZeroCapacityRemembersNothing) {
    DedupeWindow window{minutes{10}, 0};
    EXPECT_TRUE(window.first_time("a", kT0));
    EXPECT_TRUE(window.first_time("a", kT0));
    EXPECT_EQ(window.size(), 0U);
}

TEST(DedupeWindow, ClockGoingBackwardsDoesNotLoseKeys) {
    DedupeWindow window{seconds{10}};
    EXPECT_TRUE(window.first_time("a", kT0 + seconds{5}));
    EXPECT_TRUE(window.first_time("b", kT0));  // earlier than "a"
    EXPECT_FALSE(window.first_time("a", kT0));
    EXPECT_FALSE(window.first_time("b", kT0 + seconds{14}));
    EXPECT_TRUE(window.first_time("a", kT0 + seconds{15}));
    EXPECT_TRUE(window.first_time("b", kT0 + seconds{15}));
}

}  // namespace
}  // namespace rollbot::slack
