#pragma once

#include "bot/chat.hpp"
#include "bot/flow/coordinator.hpp"
#include "bot/metrics.hpp"
#include "bot/reporter.hpp"
#include "bot/settings.hpp"
#include "bot/store/sqlite_port.hpp"
#include "bot/store/sqlite_store.hpp"
#include "bot/task_group.hpp"
#include "templates/renderer.hpp"
#include "test/support/failing_store.hpp"
#include "test/support/fake_chat.hpp"
#include "test/support/fake_runbook.hpp"
#include "test/support/fake_verifier.hpp"
#include "test/support/manual_clock.hpp"

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>
#include <spdlog/logger.h>

#include <chrono>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

namespace rollbot::test {

/// The flow layer's world in one test process: an io_context the test drives, a manual clock,
/// the fake chat, runbook and verifier, a real SQLite store in memory (behind a FailingStore),
/// the built-in templates, metrics, and captured `core` and `audit` logs. Parts are built from
/// these members; coordinator() wires all of them the way rollbotd does.
///
/// People: U0ALICE and U0CAROL are on-call (anyone may run /rollback: no operators set),
/// U0BOB and U0DAVE are DBAs (usergroup S0DBA), U0BOT is a bot. DB downgrades need one DBA's
/// approval (15 minutes); everything else runs at once.
class FlowHarness {
public:
    FlowHarness();
    ~FlowHarness() = default;
    FlowHarness(const FlowHarness&) = delete;
    FlowHarness& operator=(const FlowHarness&) = delete;

    static constexpr std::string_view kChannel = "C0INCIDENTS";

    /// Runs every handler that is ready, until none is (nothing here waits for real time).
    void run();
    /// Moves the clock on, then runs what became due.
    void advance(std::chrono::milliseconds by);
    /// Starts `task` in the task group (counted) and runs the loop.
    void spawn(boost::asio::awaitable<void> task, std::string name = "test");
    /// Runs `task` to its end on the loop and returns its value. Unlike run_task (async.hpp) it
    /// never waits for real time: a task still suspended when nothing is ready fails the test.
    template <typename T>
    T finish(boost::asio::awaitable<T> task) {
        auto value = std::make_shared<std::optional<T>>();
        spawn(
            [](boost::asio::awaitable<T> inner,
               std::shared_ptr<std::optional<T>> out) -> boost::asio::awaitable<void> {
                out->emplace(co_await std::move(inner));
            }(std::move(task), value),
            "finish");
        EXPECT_TRUE(value->has_value()) << "the task did not finish";
        return value->has_value() ? std::move(**value) : T{};
    }

    /// The coordinator over every fake; built on first use, so settings can change before.
    core::Coordinator& coordinator();
    /// `/rollback <text>` from `user` in `channel`, through the coordinator; then runs.
    void command(std::string_view text,
                 std::string_view user = "U0ALICE",
                 std::string_view channel = kChannel);
    /// A reaction on message `ts` of the incidents channel, through the coordinator; then runs.
    void react(std::string_view user,
               std::string_view reaction,
               const core::MessageTs& ts,
               bool added = true,
               std::string event_id = {});

    /// The newest post whose text contains `text` (fails the test when there is none).
    [[nodiscard]] FakeChat::Post post(std::string_view text) const;
    /// The text of the log lines so far (`core` then `audit` lines interleaved as written).
    [[nodiscard]] std::string logs() const;
    /// A counter's value, with its labels.
    [[nodiscard]] double counter(std::string_view name, const core::Metrics::LabelValues& labels);

    [[nodiscard]] static core::SlashCommand slash(std::string_view text,
                                                  std::string_view user = "U0ALICE",
                                                  std::string_view channel = kChannel);
    [[nodiscard]] static core::ReactionEvent reaction(std::string_view user,
                                                      std::string_view name,
                                                      const core::MessageTs& ts,
                                                      bool added = true,
                                                      std::string event_id = {});

    // The clock outlives the io_context: coroutines still suspended when the test ends are
    // destroyed with it, and their timers let go of the clock as they go.
    ManualClock clock;
    boost::asio::io_context io;
    core::Settings settings;
    std::ostringstream log_text;
    std::shared_ptr<spdlog::logger> log;
    std::shared_ptr<spdlog::logger> audit_log;
    std::unique_ptr<store::SqliteStore> sqlite;  // read it directly: it is what was stored
    store::SqlitePort sqlite_port;
    FailingStore store;
    FakeChat chat;
    FakeRunbook runbook;
    FakeVerifier verifier;
    templates::Renderer renderer;
    core::Reporter reporter;
    core::Metrics metrics;
    core::TaskGroup tasks;
    bool force_dry_run = false;

private:
    std::optional<core::Coordinator> coordinator_;
};

}  // namespace rollbot::test
