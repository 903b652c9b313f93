// The task group: named tasks whose failures are logged and reported, counted tasks that
// active(), wait_idle() and idle_within() see, and background ones they do not.
#include "bot/task_group.hpp"

#include "bot/timer.hpp"
#include "test/support/manual_clock.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/this_coro.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <optional>
#include <sstream>
#include <stdexcept>
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

/// Waits `delay` on `clock`, then marks `done` (when given).
asio::awaitable<void> wait_for(const core::Clock* clock,
                               std::chrono::milliseconds delay,
                               bool* done) {
    core::Timer timer(co_await asio::this_coro::executor, *clock);
    timer.expires_after(delay);
    (void)co_await timer.wait();
    if (done != nullptr) {
        *done = true;
    }
}

/// Waits `delay` on `clock`, then throws `what`.
asio::awaitable<void> fail_after(const core::Clock* clock,
                                 std::chrono::milliseconds delay,
                                 std::string what) {
    core::Timer timer(co_await asio::this_coro::executor, *clock);
    timer.expires_after(delay);
    (void)co_await timer.wait();
    throw std::runtime_error(what);
}

asio::awaitable<void> throw_int() {
    throw 42;
    co_return;
}

asio::awaitable<void> until_idle(core::TaskGroup* tasks, bool* idle) {
    co_await tasks->wait_idle();
    *idle = true;
}

asio::awaitable<void> idle_within(core::TaskGroup* tasks,
                                  std::chrono::milliseconds within,
                                  const core::Clock* clock,
                                  std::optional<bool>* idle) {
    *idle = co_await tasks->idle_within(within, *clock);
}

std::shared_ptr<spdlog::logger> capture(std::ostringstream& out) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_st>(out);
    sink->set_pattern("%l %v");
    return std::make_shared<spdlog::logger>("core", std::move(sink));
}

class TaskGroupTest : public ::testing::Test {
protected:
    void run() {
        io.restart();
        while (io.poll() > 0) {
        }
    }
    void advance(std::chrono::milliseconds by) {
        clock.advance(by);
        run();
    }
    std::string logs() {
        log->flush();
        return log_text.str();
    }

    ManualClock clock;  // outlives the io_context: frames destroyed with it hold timers
    asio::io_context io;
    std::ostringstream log_text;
    std::shared_ptr<spdlog::logger> log = capture(log_text);
    core::TaskGroup tasks{io.get_executor(), log};
};

TEST_F(TaskGroupTest, AFailingTaskIsLoggedAndReportedWithItsText) {
    std::vector<std::string> failures;
    tasks.spawn("outbox.pump",
                fail_after(&clock, 1s, "kubectl vanished"),
                core::TaskGroup::Kind::Background,
                [&failures](std::string_view what) { failures.emplace_back(what); });
    run();
    EXPECT_THAT(failures, IsEmpty());
    EXPECT_THAT(logs(), Not(HasSubstr("task.failed")));

    advance(1s);
    EXPECT_THAT(failures, ElementsAre("kubectl vanished"));
    EXPECT_THAT(logs(), HasSubstr("error task.failed name=outbox.pump error=kubectl vanished"));
}

TEST_F(TaskGroupTest, ANonStandardExceptionIsUnknown) {
    std::vector<std::string> failures;
    tasks.spawn("command", throw_int(), core::TaskGroup::Kind::Counted, [&](std::string_view w) {
        failures.emplace_back(w);
    });
    run();
    EXPECT_THAT(failures, ElementsAre("unknown"));
    EXPECT_THAT(logs(), HasSubstr("task.failed name=command error=unknown"));
    EXPECT_EQ(tasks.active(), 0);  // a failed task is no longer counted
}

TEST_F(TaskGroupTest, ATaskThatEndsWellIsNotReported) {
    bool called = false;
    bool done = false;
    tasks.spawn("command", wait_for(&clock, 0ms, &done), core::TaskGroup::Kind::Counted, [&](auto) {
        called = true;
    });
    run();
    EXPECT_TRUE(done);
    EXPECT_FALSE(called);
    EXPECT_THAT(logs(), IsEmpty());
}

TEST_F(TaskGroupTest, OnlyCountedTasksAreActive) {
    tasks.spawn("command", wait_for(&clock, 2s, nullptr));
    tasks.spawn("reaction", wait_for(&clock, 3s, nullptr), core::TaskGroup::Kind::Counted);
    tasks.spawn("timer", wait_for(&clock, 1h, nullptr), core::TaskGroup::Kind::Background);
    EXPECT_EQ(tasks.active(), 2);
    run();
    EXPECT_EQ(tasks.active(), 2);
    advance(2s);
    EXPECT_EQ(tasks.active(), 1);
    advance(1s);
    EXPECT_EQ(tasks.active(), 0);
}

TEST_F(TaskGroupTest, WaitIdleEndsWithTheLastCountedTaskAndNotBackgroundOnes) {
    tasks.spawn("command", wait_for(&clock, 2s, nullptr));
    tasks.spawn("command", fail_after(&clock, 1s, "boom"));
    tasks.spawn("watch", wait_for(&clock, 1h, nullptr), core::TaskGroup::Kind::Background);
    bool first = false;
    bool second = false;
    tasks.spawn("waiter", until_idle(&tasks, &first), core::TaskGroup::Kind::Background);
    tasks.spawn("waiter", until_idle(&tasks, &second), core::TaskGroup::Kind::Background);
    run();
    EXPECT_FALSE(first);
    advance(1s);  // one fails: still one counted
    EXPECT_FALSE(first);
    advance(1s);
    EXPECT_TRUE(first);
    EXPECT_TRUE(second);  // every waiter wakes
}

TEST_F(TaskGroupTest, WaitIdleIsImmediateWhenNothingIsCounted) {
    tasks.spawn("watch", wait_for(&clock, 1h, nullptr), core::TaskGroup::Kind::Background);
    bool idle = false;
    tasks.spawn("waiter", until_idle(&tasks, &idle), core::TaskGroup::Kind::Background);
    run();
    EXPECT_TRUE(idle);
}

TEST_F(TaskGroupTest, IdleWithinIsFalseAtItsDeadline) {
    tasks.spawn("command", wait_for(&clock, 10s, nullptr));
    std::optional<bool> idle;
    tasks.spawn(
        "shutdown", idle_within(&tasks, 5s, &clock, &idle), core::TaskGroup::Kind::Background);
    run();
    advance(5s - 1ms);
    EXPECT_FALSE(idle.has_value()) << "gave up before its deadline";
    advance(1ms);
    ASSERT_TRUE(idle.has_value());
    EXPECT_FALSE(*idle);
    EXPECT_EQ(tasks.active(), 1);
}

TEST_F(TaskGroupTest, IdleWithinIsTrueWhenTheLastTaskEndsFirst) {
    tasks.spawn("command", wait_for(&clock, 3s, nullptr));
    std::optional<bool> idle;
    tasks.spawn(
        "shutdown", idle_within(&tasks, 5s, &clock, &idle), core::TaskGroup::Kind::Background);
    run();
    advance(3s - 1ms);
    EXPECT_FALSE(idle.has_value());
    advance(1ms);
    ASSERT_TRUE(idle.has_value());  // at 3 s, not at the 5 s deadline
    EXPECT_TRUE(*idle);
}

TEST_F(TaskGroupTest, IdleWithinIsTrueAtOnceWhenIdle) {
    std::optional<bool> idle;
    tasks.spawn(
        "shutdown", idle_within(&tasks, 5s, &clock, &idle), core::TaskGroup::Kind::Background);
    run();
    ASSERT_TRUE(idle.has_value());
    EXPECT_TRUE(*idle);
}

TEST(TaskGroup, DescribeExceptionGivesWhatOrUnknown) {
    EXPECT_EQ(core::describe_exception(std::make_exception_ptr(std::logic_error("bad plan"))),
              "bad plan");
    EXPECT_EQ(core::describe_exception(std::make_exception_ptr(7)), "unknown");
}

}  // namespace
}  // namespace rollbot::test
