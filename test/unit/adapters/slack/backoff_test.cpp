#include "adapters/slack/backoff.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace rollbot::slack {
namespace {

using std::chrono::milliseconds;

std::function<double()> fixed(double value) {
    return [value] {
        return value;
    };
}

TEST(Backoff, DoublesUpToTheCapWithFixedRandom) {
    Backoff backoff{milliseconds{100}, milliseconds{5000}, fixed(0.5)};
    std::vector<milliseconds> waits;
    waits.reserve(9);
    for (int i = 0; i < 9; ++i) {
        waits.push_back(backoff.next());
    }
    const std::vector<milliseconds> expected = {milliseconds{50},
                                                milliseconds{100},
                                                milliseconds{200},
                                                milliseconds{400},
                                                milliseconds{800},
                                                milliseconds{1600},
                                                milliseconds{2500},
                                                milliseconds{2500},
                                                milliseconds{2500}};
    EXPECT_EQ(waits, expected);
    EXPECT_EQ(backoff.attempts(), 9);
}

TEST(Backoff, FullJitterSpansZeroToTheCeiling) {
    Backoff low{milliseconds{1000}, milliseconds{30000}, fixed(0.0)};
    Backoff high{milliseconds{1000}, milliseconds{30000}, fixed(std::nextafter(1.0, 0.0))};
    for (int i = 0; i < 10; ++i) {
        EXPECT_EQ(low.next(), milliseconds{0});
        const milliseconds ceiling{std::min<long long>(30000, 1000LL << i)};
        const milliseconds wait = high.next();
        EXPECT_LE(wait, ceiling) << i;
        EXPECT_GE(wait, ceiling - milliseconds{1}) << i;
    }
}

TEST(Backoff, ThousandAttemptsStayWithinBoundsWithFixedRandom) {
    for (double r : {0.0, 0.25, 0.5, 0.999, std::nextafter(1.0, 0.0)}) {
        Backoff backoff{milliseconds{250}, milliseconds{60000}, fixed(r)};
        milliseconds previous{0};
        for (int i = 0; i < 1000; ++i) {
            const milliseconds wait = backoff.next();
            ASSERT_GE(wait.count(), 0) << "r=" << r << " attempt " << i;
            ASSERT_LE(wait, milliseconds{60000}) << "r=" << r << " attempt " << i;
            ASSERT_GE(wait, previous) << "a fixed random never shrinks the wait";
            previous = wait;
        }
        EXPECT_EQ(backoff.attempts(), 1000);
    }
}

TEST(Backoff, ThousandAttemptsWithARealDistribution) {
    std::mt19937_64 engine{20240611};
    std::uniform_real_distribution<double> uniform{0.0, 1.0};
    Backoff backoff{milliseconds{500}, milliseconds{30000}, [&] {
                        return uniform(engine);
                    }};
    double sum = 0;
    milliseconds low = milliseconds::max();
    milliseconds high{0};
    for (int i = 0; i < 1000; ++i) {
        const milliseconds wait = backoff.next();
        ASSERT_GE(wait.count(), 0);
        ASSERT_LE(wait, milliseconds{30000});
        if (i >= 100) {  // long past the doubling phase: uniform over [0, cap)
            sum += static_cast<double>(wait.count());
            low = std::min(low, wait);
            high = std::max(high, wait);
        }
    }
    const double mean = sum / 900.0;
    EXPECT_GT(mean, 13000.0);  // 15 s expected; 900 samples put the mean within ~±1 s
    EXPECT_LT(mean, 17000.0);
    EXPECT_LT(low, milliseconds{1000}) << "jitter must reach near zero (no thundering herd)";
    EXPECT_GT(high, milliseconds{29000});
}

TEST(Backoff, NoOverflowWithHugeCap) {
    Backoff backoff{milliseconds{1}, milliseconds::max(), fixed(std::nextafter(1.0, 0.0))};
    for (int i = 0; i < 1000; ++i) {
        const milliseconds wait = backoff.next();
        ASSERT_GE(wait.count(), 0) << i;
        ASSERT_LE(wait, milliseconds::max()) << i;
    }
    Backoff big_base{milliseconds::max() / 3, milliseconds::max(), fixed(0.5)};
    for (int i = 0; i < 300; ++i) {
        ASSERT_GE(big_base.next().count(), 0) << i;
    }
}

TEST(Backoff, ResetStartsAgainFromBase) {
    Backoff backoff{milliseconds{100}, milliseconds{10000}, fixed(0.5)};
    for (int i = 0; i < 20; ++i) {
        (void)backoff.next();
    }
    EXPECT_EQ(backoff.next(), milliseconds{5000});
    backoff.reset();
    EXPECT_EQ(backoff.attempts(), 0);
    EXPECT_EQ(backoff.next(), milliseconds{50});
    EXPECT_EQ(backoff.next(), milliseconds{100});
    EXPECT_EQ(backoff.attempts(), 2);
}

TEST(Backoff, MisbehavingRandomIsClamped) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double inf = std::numeric_limits<double>::infinity();
    for (double r : {-1.0, 1.0, 1.5, 1e300, -inf, inf, nan}) {
        Backoff backoff{milliseconds{100}, milliseconds{1000}, fixed(r)};
        for (int i = 0; i < 50; ++i) {
            const milliseconds wait = backoff.next();
            ASSERT_GE(wait.count(), 0) << r;
            ASSERT_LE(wait, milliseconds{1000}) << r;
        }
    }
}

TEST(Backoff, OddConfigurationsNeverExceedTheCap) {
    Backoff cap_below_base{milliseconds{5000}, milliseconds{1000}, fixed(0.5)};
    EXPECT_EQ(cap_below_base.next(), milliseconds{500});
    Backoff zero{milliseconds{0}, milliseconds{1000}, fixed(0.5)};
    EXPECT_EQ(zero.next(), milliseconds{0});
    Backoff negative{milliseconds{-100}, milliseconds{-5}, fixed(0.5)};
    EXPECT_EQ(negative.next(), milliseconds{0});
    // Without a random source: no jitter, the full ceiling (never a zero-wait reconnect storm).
    Backoff no_random{milliseconds{100}, milliseconds{1000}, nullptr};
    EXPECT_EQ(no_random.next(), milliseconds{100});
    EXPECT_EQ(no_random.next(), milliseconds{200});
}

}  // namespace
}  // namespace rollbot::slack
