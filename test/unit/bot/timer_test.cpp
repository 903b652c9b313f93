// The domain timer: on the manual clock it fires when the clock passes its deadline, never
// before; cancel() and the loser of an `a || b` end a wait with false; with the system clock it
// is an ordinary steady_timer.
#include "bot/timer.hpp"

#include "test/support/async.hpp"
#include "test/support/manual_clock.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <gtest/gtest.h>

#include <optional>
#include <stdexcept>
#include <variant>

namespace rollbot::test {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

/// Waits on `timer` and keeps what the wait said.
asio::awaitable<bool> record(core::Timer* timer, std::optional<bool>* out) {
    const bool fired = co_await timer->wait();
    *out = fired;
    co_return fired;
}

asio::awaitable<void> wait_into(core::Timer* timer, std::optional<bool>* out) {
    (void)co_await record(timer, out);
}

/// Waits on `timer` while a handler queued behind the wait cancels it.
asio::awaitable<void> wait_then_cancel(core::Timer* timer, std::optional<bool>* out) {
    asio::post(co_await asio::this_coro::executor, [timer] { timer->cancel(); });
    co_await wait_into(timer, out);
}

/// `a || b`; `winner` is 0 or 1, and set only once the whole group has completed.
asio::awaitable<void> race(core::Timer* a,
                           std::optional<bool>* a_out,
                           core::Timer* b,
                           std::optional<bool>* b_out,
                           std::optional<std::size_t>* winner) {
    using namespace asio::experimental::awaitable_operators;
    const auto result = co_await (record(a, a_out) || record(b, b_out));
    *winner = result.index();
}

class TimerTest : public ::testing::Test {
protected:
    void start(asio::awaitable<void> task) {
        asio::co_spawn(io, std::move(task), [](const std::exception_ptr& e) {
            if (e) {
                ADD_FAILURE() << "the test coroutine threw";
            }
        });
        run();
    }
    void run() {
        io.restart();
        while (io.poll() > 0) {
        }
    }
    void advance(std::chrono::milliseconds by) {
        clock.advance(by);
        run();
    }

    ManualClock clock;  // outlives the io_context: frames destroyed with it hold timers
    asio::io_context io;
};

TEST_F(TimerTest, FiresAtItsDeadlineOnTheManualClockAndNotBefore) {
    core::Timer timer(io.get_executor(), clock);
    timer.expires_after(5s);
    EXPECT_EQ(timer.expiry(), clock.steady_now() + 5s);
    std::optional<bool> fired;
    start(wait_into(&timer, &fired));
    EXPECT_FALSE(fired.has_value());
    advance(4999ms);
    EXPECT_FALSE(fired.has_value()) << "fired before its deadline";
    advance(1ms);
    ASSERT_TRUE(fired.has_value());
    EXPECT_TRUE(*fired);
}

TEST_F(TimerTest, AWaitPastItsDeadlineEndsAtOnce) {
    core::Timer timer(io.get_executor(), clock);
    timer.expires_after(1s);
    clock.advance(2s);
    std::optional<bool> fired;
    start(wait_into(&timer, &fired));
    ASSERT_TRUE(fired.has_value());
    EXPECT_TRUE(*fired);

    core::Timer unset(io.get_executor(), clock);  // its deadline is when it was made
    std::optional<bool> at_once;
    start(wait_into(&unset, &at_once));
    ASSERT_TRUE(at_once.has_value());
    EXPECT_TRUE(*at_once);
}

TEST_F(TimerTest, CancelEndsAPendingWaitWithFalseAndALaterWaitWaitsAgain) {
    core::Timer timer(io.get_executor(), clock);
    timer.expires_after(5s);
    std::optional<bool> first;
    start(wait_into(&timer, &first));
    advance(1s);
    ASSERT_FALSE(first.has_value());

    timer.cancel();
    run();
    ASSERT_TRUE(first.has_value()) << "cancel() did not end the wait";
    EXPECT_FALSE(*first);

    std::optional<bool> second;
    start(wait_into(&timer, &second));
    EXPECT_FALSE(second.has_value()) << "a wait after cancel() must wait again";
    advance(3999ms);
    EXPECT_FALSE(second.has_value());
    advance(1ms);  // the deadline set before the cancel still holds
    ASSERT_TRUE(second.has_value());
    EXPECT_TRUE(*second);
}

TEST_F(TimerTest, ExpiresAtMovesAPendingWaitsDeadlineEarlier) {
    core::Timer timer(io.get_executor(), clock);
    timer.expires_after(10s);
    std::optional<bool> fired;
    start(wait_into(&timer, &fired));
    advance(2s);
    timer.expires_at(clock.steady_now() + 1s);
    run();
    EXPECT_FALSE(fired.has_value());
    advance(999ms);
    EXPECT_FALSE(fired.has_value());
    advance(1ms);
    ASSERT_TRUE(fired.has_value());
    EXPECT_TRUE(*fired);
}

TEST_F(TimerTest, ExpiresAtMovesAPendingWaitsDeadlineLater) {
    core::Timer timer(io.get_executor(), clock);
    timer.expires_after(5s);
    std::optional<bool> fired;
    start(wait_into(&timer, &fired));
    timer.expires_after(20s);
    run();
    advance(5s);
    EXPECT_FALSE(fired.has_value()) << "fired at the old deadline";
    advance(15s);
    ASSERT_TRUE(fired.has_value());
    EXPECT_TRUE(*fired);
}

TEST_F(TimerTest, TwoWaitsOnOneTimerBothEnd) {
    core::Timer timer(io.get_executor(), clock);
    timer.expires_after(1s);
    std::optional<bool> a;
    std::optional<bool> b;
    start(wait_into(&timer, &a));
    start(wait_into(&timer, &b));
    advance(1s);
    ASSERT_TRUE(a.has_value());
    ASSERT_TRUE(b.has_value());
    EXPECT_TRUE(*a);
    EXPECT_TRUE(*b);

    timer.expires_after(1s);
    std::optional<bool> c;
    std::optional<bool> d;
    start(wait_into(&timer, &c));
    start(wait_into(&timer, &d));
    timer.cancel();
    run();
    ASSERT_TRUE(c.has_value());
    ASSERT_TRUE(d.has_value());
    EXPECT_FALSE(*c);
    EXPECT_FALSE(*d);
}

TEST_F(TimerTest, TheLoserOfAnOrEndsWithFalseAndTheGroupCompletes) {
    core::Timer soon(io.get_executor(), clock);
    core::Timer late(io.get_executor(), clock);
    soon.expires_after(1s);
    late.expires_after(1h);
    std::optional<bool> soon_fired;
    std::optional<bool> late_fired;
    std::optional<std::size_t> winner;
    start(race(&soon, &soon_fired, &late, &late_fired, &winner));
    EXPECT_FALSE(winner.has_value());

    advance(1s);
    ASSERT_TRUE(winner.has_value()) << "the group did not complete when one side won";
    EXPECT_EQ(*winner, 0U);
    ASSERT_TRUE(soon_fired.has_value());
    EXPECT_TRUE(*soon_fired);
    ASSERT_TRUE(late_fired.has_value()) << "the loser's wait did not end";
    EXPECT_FALSE(*late_fired);

    std::optional<bool> again;  // the losing timer still works
    start(wait_into(&late, &again));
    EXPECT_FALSE(again.has_value());
    advance(1h);
    ASSERT_TRUE(again.has_value());
    EXPECT_TRUE(*again);
}

TEST_F(TimerTest, ATimerLetsGoOfTheClock) {
    const std::size_t before = clock.timers();
    {
        core::Timer timer(io.get_executor(), clock);
        EXPECT_EQ(clock.timers(), before + 1);
    }
    EXPECT_EQ(clock.timers(), before);
    advance(1s);  // moving the clock after a timer is gone touches nothing
}

// Real time: a few milliseconds. Only lower bounds are asserted: a timer never fires early, and
// cancel() ends a wait of an hour long before it would fire.
TEST(Timer, WorksWithTheSystemClock) {
    core::SystemClock clock;
    asio::io_context io;
    core::Timer timer(io.get_executor(), clock);

    const auto started = std::chrono::steady_clock::now();
    timer.expires_after(5ms);
    std::optional<bool> fired;
    run_task(io, wait_into(&timer, &fired));
    ASSERT_TRUE(fired.has_value());
    EXPECT_TRUE(*fired);
    EXPECT_GE(std::chrono::steady_clock::now() - started, 5ms);

    timer.expires_after(1h);
    std::optional<bool> cancelled;
    run_task(io, wait_then_cancel(&timer, &cancelled));
    ASSERT_TRUE(cancelled.has_value());
    EXPECT_FALSE(*cancelled);

    core::Timer late(io.get_executor(), clock);
    timer.expires_after(2ms);
    late.expires_after(1h);
    std::optional<bool> soon_fired;
    std::optional<bool> late_fired;
    std::optional<std::size_t> winner;
    run_task(io, race(&timer, &soon_fired, &late, &late_fired, &winner));
    ASSERT_TRUE(winner.has_value());
    EXPECT_EQ(*winner, 0U);
    EXPECT_EQ(late_fired, std::optional<bool>(false));
}

}  // namespace
}  // namespace rollbot::test
