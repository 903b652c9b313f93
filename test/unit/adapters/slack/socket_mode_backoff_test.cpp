// apps.connections.open failing for a long time, at a scale the test can afford: the transport
// with a 10 ms base and a 200 ms cap (production: 500 ms and 30 s) against the fake Slack
// answering 503 until told otherwise. Production reaches its cap after six attempts and a
// minute of failures is two more; here the failure lasts sixteen attempts, eleven of them at the
// cap. The jitter's random source is pinned just below 1, so every wait is its full ceiling
// (less the 1 ms floor() takes off) and the waits are known.
#include "actions/curl_http_client.hpp"
#include "adapters/slack/socket_mode_transport.hpp"
#include "adapters/slack/web_api.hpp"
#include "bot/ports/clock.hpp"
#include "test/support/fake_slack_server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <gtest/gtest.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/null_sink.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <future>
#include <memory>
#include <thread>
#include <vector>

namespace rollbot::slack {
namespace {

using namespace std::chrono_literals;
using test::FakeSlackFault;
using test::FakeSlackServer;

class NoSink final : public core::InboundSink {
public:
    void on_inbound(core::Inbound /*event*/) override {}
    boost::asio::awaitable<void> wait_idle() override { co_return; }
};

// The times at which apps.connections.open reached the fake Slack.
std::vector<test::FakeSlackClock::time_point> open_times(const FakeSlackServer& slack) {
    std::vector<test::FakeSlackClock::time_point> at;
    for (const auto& call : slack.calls()) {
        if (call.method == "apps.connections.open") {
            at.push_back(call.at);
        }
    }
    return at;
}

TEST(SocketModeBackoff, ConnectionsOpenFailingLongBacksOffToTheCapHoldsItAndRecovers) {
    constexpr auto kBase = 10ms;
    constexpr auto kCap = 200ms;
    constexpr std::size_t kFailures = 16;
    FakeSlackServer slack;
    slack.inject_fault("apps.connections.open",
                       FakeSlackFault::server_error(503, FakeSlackFault::kUntilCleared));

    boost::asio::io_context io;
    actions::CurlHttpClient http;
    core::SystemClock clock;
    auto log =
        std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>());
    WebApiOptions api_options;
    api_options.max_attempts = 1;  // one HTTP call per connect attempt: the transport's backoff
    SlackWebApi api(io.get_executor(),
                    http,
                    slack.api_url(),
                    core::Secret(slack.options().bot_token),
                    core::Secret(slack.options().app_token),
                    clock,
                    log,
                    api_options);
    SocketModeOptions options;
    options.backoff_base = kBase;
    options.backoff_cap = kCap;
    core::TaskGroup tasks(io.get_executor(), log);
    SlackSocketModeTransport transport(
        tasks, api, options, clock, log, [] { return std::nextafter(1.0, 0.0); });
    NoSink sink;
    std::promise<void> ended;
    boost::asio::co_spawn(
        io, transport.run(sink), [&](const std::exception_ptr& /*e*/) { ended.set_value(); });
    std::thread loop([&] { io.run(); });

    ASSERT_TRUE(slack.wait_for_call("apps.connections.open", kFailures, 20s));
    EXPECT_FALSE(slack.wait_for_connections(1, 0ms)) << "no connection while open fails";
    slack.clear_faults("apps.connections.open");
    const bool recovered = static_cast<bool>(slack.wait_for_connections(1, 20s));

    boost::asio::post(io, [&] { transport.stop(); });
    const bool stopped = ended.get_future().wait_for(20s) == std::future_status::ready;
    io.stop();
    loop.join();
    ASSERT_TRUE(stopped) << "the transport stops when asked, even after a long outage";
    // The fake counts the connection once its websocket is up and hello is sent; whether the
    // transport read that hello before stop() is a race, so recovery is judged by the fake.
    ASSERT_TRUE(recovered) << "it connects once Slack answers again";

    const auto at = open_times(slack);
    ASSERT_GE(at.size(), kFailures + 1);
    // Each failed attempt n is followed by a wait of min(cap, base * 2^n): timers never fire
    // early, so every gap is at least that (1 ms for rounding). The upper bound is loose (a
    // loaded machine), but a transport that stopped trying or waited past the cap would fail it.
    std::chrono::milliseconds ceiling = kBase;
    std::size_t at_cap = 0;
    for (std::size_t n = 0; n + 1 < at.size(); ++n) {
        const auto gap = std::chrono::duration_cast<std::chrono::milliseconds>(at[n + 1] - at[n]);
        EXPECT_GE(gap, ceiling - 1ms) << "attempt " << n + 1 << " came too soon: no backoff";
        EXPECT_LE(gap, ceiling + 2s) << "attempt " << n + 1 << " came far too late";
        at_cap += ceiling == kCap ? 1U : 0U;
        ceiling = std::min(ceiling * 2, std::chrono::milliseconds(kCap));
    }
    EXPECT_GE(at_cap, 10U) << "the outage lasted long enough to hold the cap";
}

}  // namespace
}  // namespace rollbot::slack
