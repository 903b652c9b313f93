// How one websocket reports its end: a kind the reconnect counter is labelled by, and a text
// for the log. Real sockets on 127.0.0.1: the fake Slack, and a plain HTTP server that never
// upgrades.
#include "adapters/slack/socket_connection.hpp"

#include "actions/curl_http_client.hpp"
#include "adapters/slack/web_api.hpp"
#include "bot/ports/clock.hpp"
#include "bot/task_group.hpp"
#include "test/support/async.hpp"
#include "test/support/fake_http_server.hpp"
#include "test/support/fake_slack_server.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/null_sink.h>

#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>

namespace rollbot::slack {
namespace {

using namespace std::chrono_literals;
using test::FakeSlackDrop;
using test::FakeSlackServer;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr auto kWait = 20s;

struct Ended {
    CloseCause cause = CloseCause::Closed;
    std::string why;
};

// One connection on its own io thread; the test thread waits for what it reports.
class OneConnection {
public:
    OneConnection() : log_(make_log()) {}
    ~OneConnection() {
        work_.reset();
        io_.stop();
        if (thread_.joinable()) {
            thread_.join();
        }
    }
    OneConnection(const OneConnection&) = delete;
    OneConnection& operator=(const OneConnection&) = delete;

    /// A fresh Socket Mode URL from the fake's apps.connections.open (before start()).
    std::string open_url(const FakeSlackServer& slack) {
        actions::CurlHttpClient http;
        core::SystemClock clock;
        SlackWebApi api(io_.get_executor(),
                        http,
                        slack.api_url(),
                        core::Secret(slack.options().bot_token),
                        core::Secret(slack.options().app_token),
                        clock,
                        log_);
        auto url = test::run_task(io_, api.open_connection());
        EXPECT_TRUE(url.has_value());
        return url ? url->reveal() : std::string{};
    }

    void start(const std::string& url, bool tls = false) {
        ConnectionHandlers handlers{[this](std::uint64_t) { opened_.set_value(); },
                                    [](std::uint64_t, std::string_view) {},
                                    [](std::uint64_t, std::size_t) {},
                                    [this](std::uint64_t, CloseCause cause, std::string why) {
                                        ended_.set_value(Ended{cause, std::move(why)});
                                    }};
        ConnectionOptions options;
        options.connect_timeout = 5s;
        connection_ = make_socket_connection(tasks_, 1, options, std::move(handlers), log_, tls);
        boost::asio::post(
            io_, [connection = connection_, url] { connection->start(core::Secret(url)); });
        io_.restart();
        thread_ = std::thread([this] { io_.run(); });
    }

    testing::AssertionResult wait_open() {
        if (opened_future_.wait_for(kWait) != std::future_status::ready) {
            return testing::AssertionFailure() << "the websocket never opened";
        }
        return testing::AssertionSuccess();
    }

    /// What on_closed reported; a failure with why "(never reported)" after kWait.
    Ended wait_end() {
        if (ended_future_.wait_for(kWait) != std::future_status::ready) {
            ADD_FAILURE() << "on_closed was never called";
            return Ended{CloseCause::Closed, "(never reported)"};
        }
        return ended_future_.get();
    }

private:
    static std::shared_ptr<spdlog::logger> make_log() {
        return std::make_shared<spdlog::logger>("test",
                                                std::make_shared<spdlog::sinks::null_sink_mt>());
    }

    boost::asio::io_context io_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{
        io_.get_executor()};
    std::shared_ptr<spdlog::logger> log_;
    core::TaskGroup tasks_{io_.get_executor(), make_log()};
    std::promise<void> opened_;
    std::future<void> opened_future_ = opened_.get_future();
    std::promise<Ended> ended_;
    std::future<Ended> ended_future_ = ended_.get_future();
    std::shared_ptr<SocketConnection> connection_;
    std::thread thread_;
};

TEST(SocketConnectionEnd, CloseFrameFromSlackIsClosedBySlackWithItsCode) {
    FakeSlackServer slack;
    OneConnection c;
    c.start(c.open_url(slack));
    ASSERT_TRUE(c.wait_open());
    ASSERT_TRUE(slack.wait_for_connections(1, kWait));
    slack.close_connection(FakeSlackServer::kLatest, 4002);
    const auto end = c.wait_end();
    EXPECT_EQ(end.cause, CloseCause::ClosedBySlack);
    EXPECT_EQ(end.why, "closed by Slack (code 4002)");
}

TEST(SocketConnectionEnd, DroppedTcpIsAReadError) {
    FakeSlackServer slack;
    OneConnection c;
    c.start(c.open_url(slack));
    ASSERT_TRUE(c.wait_open());
    ASSERT_TRUE(slack.wait_for_connections(1, kWait));
    slack.drop_connection(FakeSlackServer::kLatest, FakeSlackDrop::Reset);
    const auto end = c.wait_end();
    EXPECT_EQ(end.cause, CloseCause::ReadError);
    EXPECT_THAT(end.why, StartsWith("slack.ws.read: "));
}

TEST(SocketConnectionEnd, AServerThatDoesNotUpgradeIsAConnectError) {
    test::FakeHttpServer http;  // answers 200, never 101
    OneConnection c;
    c.start("ws://127.0.0.1:" + std::to_string(http.port()) + "/link/?ticket=t");
    const auto end = c.wait_end();
    EXPECT_EQ(end.cause, CloseCause::ConnectError);
    EXPECT_THAT(end.why, StartsWith("slack.ws.upgrade 127.0.0.1: "));
}

TEST(SocketConnectionEnd, AUrlOfTheWrongKindIsAConnectError) {
    OneConnection c;
    c.start("wss://127.0.0.1:1/link/?ticket=t", /*tls=*/false);
    const auto end = c.wait_end();
    EXPECT_EQ(end.cause, CloseCause::ConnectError);
    EXPECT_THAT(end.why, HasSubstr("scheme does not match"));
}

}  // namespace
}  // namespace rollbot::slack
