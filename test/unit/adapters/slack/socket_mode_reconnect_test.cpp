// Why the Socket Mode transport opened each connection, as /metrics labels it
// (rollbot_slack_reconnects_total{reason=…}) and as the log says it (slack.connecting reason=…):
// the labels are a fixed set, each cause has its own, and the real transport against the fake
// Slack on 127.0.0.1 counts what happened.
#include "actions/curl_http_client.hpp"
#include "adapters/slack/envelope_codec.hpp"
#include "adapters/slack/socket_mode_transport.hpp"
#include "adapters/slack/web_api.hpp"
#include "bot/metrics.hpp"
#include "bot/ports/clock.hpp"
#include "test/support/exposition.hpp"
#include "test/support/fake_slack_server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/ostream_sink.h>

#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace rollbot::slack {
namespace {

using namespace std::chrono_literals;
using test::FakeSlackDrop;
using test::FakeSlackServer;
using ::testing::HasSubstr;

constexpr auto kWait = 20s;

TEST(ReconnectReason, EveryReasonHasItsOwnFixedLabel) {
    const std::map<ReconnectReason, std::string> labels{
        {ReconnectReason::Start, "start"},
        {ReconnectReason::Lifetime, "lifetime"},
        {ReconnectReason::Warning, "warning"},
        {ReconnectReason::RefreshRequested, "refresh_requested"},
        {ReconnectReason::LinkDisabled, "link_disabled"},
        {ReconnectReason::TooManyWebsockets, "too_many_websockets"},
        {ReconnectReason::Unknown, "unknown"},
        {ReconnectReason::Closed, "closed"},
        {ReconnectReason::ClosedBySlack, "closed_by_slack"},
        {ReconnectReason::ReadError, "read_error"},
        {ReconnectReason::WriteError, "write_error"},
        {ReconnectReason::ConnectError, "connect_error"},
    };
    std::set<std::string> seen;
    for (const auto& [reason, label] : labels) {
        EXPECT_EQ(to_string(reason), label);
        seen.insert(std::string(to_string(reason)));
    }
    EXPECT_EQ(seen.size(), labels.size()) << "two reasons share a label";
}

TEST(ReconnectReason, DisconnectFramesAreLabelledByTheirReason) {
    const std::map<std::string, std::string> labels{
        {"warning", "warning"},
        {"refresh_requested", "refresh_requested"},
        {"link_disabled", "link_disabled"},
        {"too_many_websockets", "too_many_websockets"},
        {"maintenance_window", "unknown"},  // a reason Slack may add one day
    };
    for (const auto& [wire, label] : labels) {
        const auto decoded = decode_frame(R"({"type":"disconnect","reason":")" + wire + R"("})");
        const auto* disconnect = std::get_if<Disconnect>(&decoded.body);
        ASSERT_NE(disconnect, nullptr) << wire;
        EXPECT_EQ(to_string(reconnect_reason(disconnect->reason)), label) << wire;
        EXPECT_EQ(to_string(disconnect->reason), label) << "the log's name for " << wire;
    }
}

TEST(ReconnectReason, EachWayAConnectionEndsHasItsLabel) {
    EXPECT_EQ(to_string(reconnect_reason(CloseCause::ClosedBySlack)), "closed_by_slack");
    EXPECT_EQ(to_string(reconnect_reason(CloseCause::ReadError)), "read_error");
    EXPECT_EQ(to_string(reconnect_reason(CloseCause::WriteError)), "write_error");
    EXPECT_EQ(to_string(reconnect_reason(CloseCause::ConnectError)), "connect_error");
    EXPECT_EQ(to_string(reconnect_reason(CloseCause::Closed)), "closed");
}

TEST(SlackMetrics, EverySlackFamilyIsDeclaredNextToTheCoreOnes) {
    core::Metrics m;
    core::define_rollbot_metrics(m);
    define_slack_metrics(m);
    m.set("rollbot_slack_connection_live", {}, 1);
    m.set("rollbot_slack_envelopes_total", {"slash_commands"}, 2);
    m.set("rollbot_slack_reconnects_total", {"refresh_requested"}, 1);
    m.observe("rollbot_slack_ack_seconds", {}, 0.0003);
    m.set("rollbot_slack_api_calls_total", {"chat.postMessage"}, 5);
    m.set("rollbot_slack_api_errors_total", {"chat.postMessage"}, 1);
    m.set("rollbot_slack_api_rate_limited_total", {"chat.postMessage"}, 1);
    auto parsed = test::parse_exposition(m.exposition());
    ASSERT_TRUE(std::holds_alternative<test::Exposition>(parsed)) << std::get<std::string>(parsed);
    const auto& e = std::get<test::Exposition>(parsed);
    for (const auto& s : e.samples) {
        EXPECT_NE(s.name, "rollbot_metrics_dropped_total") << "dropped: " << s.labels.at("metric");
    }
    const std::map<std::string, std::string> types{
        {"rollbot_slack_connection_live", "gauge"},
        {"rollbot_slack_connection_fatal", "gauge"},
        {"rollbot_slack_connections", "gauge"},
        {"rollbot_slack_hellos_total", "counter"},
        {"rollbot_slack_envelopes_total", "counter"},
        {"rollbot_slack_duplicates_total", "counter"},
        {"rollbot_slack_reconnects_total", "counter"},
        {"rollbot_slack_ack_seconds", "histogram"},
        {"rollbot_slack_api_calls_total", "counter"},
        {"rollbot_slack_api_errors_total", "counter"},
        {"rollbot_slack_api_rate_limited_total", "counter"},
    };
    for (const auto& [family, type] : types) {
        ASSERT_TRUE(e.types.contains(family)) << family;
        EXPECT_EQ(e.types.at(family), type) << family;
    }
    EXPECT_EQ(e.value("rollbot_slack_reconnects_total", {{"reason", "refresh_requested"}}), 1);
    EXPECT_EQ(e.value("rollbot_slack_ack_seconds_bucket", {{"le", "0.00025"}}), 0);
    EXPECT_EQ(e.value("rollbot_slack_ack_seconds_bucket", {{"le", "0.0005"}}), 1);
    EXPECT_EQ(e.value("rollbot_slack_ack_seconds_bucket", {{"le", "3"}}), 1);
    EXPECT_TRUE(e.types.contains("rollbot_commands_total")) << "the core's are still there";
}

class NoSink final : public core::InboundSink {
public:
    void on_inbound(core::Inbound /*event*/) override {}
    boost::asio::awaitable<void> wait_idle() override { co_return; }
};

// The real transport on its own io thread; the test acts through the fake Slack and looks at
// the transport's books only after stop() has ended its run.
class SocketModeReconnects : public ::testing::Test {
protected:
    SocketModeReconnects()
        : log_(std::make_shared<spdlog::logger>(
              "slack", std::make_shared<spdlog::sinks::ostream_sink_mt>(log_text_))) {
        log_->set_pattern("%v");
    }
    ~SocketModeReconnects() override { stop(); }

    void start(const FakeSlackServer& slack, SocketModeOptions options = {}) {
        api_ = std::make_unique<SlackWebApi>(io_.get_executor(),
                                             http_,
                                             slack.api_url(),
                                             core::Secret(slack.options().bot_token),
                                             core::Secret(slack.options().app_token),
                                             clock_,
                                             log_);
        transport_ =
            std::make_unique<SlackSocketModeTransport>(tasks_, *api_, options, clock_, log_);
        boost::asio::co_spawn(
            io_, transport_->run(sink_), [this](const std::exception_ptr&) { ended_.set_value(); });
        loop_ = std::thread([this] { io_.run(); });
    }

    void stop() {
        if (!loop_.joinable()) {
            return;
        }
        boost::asio::post(io_, [this] { transport_->stop(); });
        EXPECT_EQ(ended_.get_future().wait_for(kWait), std::future_status::ready);
        io_.stop();
        loop_.join();
    }

    // Once Slack has the ack of an envelope sent after the newest connection's hello, the
    // transport has taken that hello in and made the connection its live one (one io thread:
    // the hello's wake-up runs before the ack is written).
    static testing::AssertionResult settled(FakeSlackServer& slack) {
        const auto id = slack.send_slash_command("help", "U0ALICE", "C0INCIDENTS");
        return slack.wait_for_ack(id, kWait);
    }

    // The transport's reconnect counters, as /metrics shows them.
    [[nodiscard]] test::Exposition scrape() const {
        core::Metrics m;
        define_slack_metrics(m);
        transport_->export_metrics(m);
        auto parsed = test::parse_exposition(m.exposition());
        if (auto* problem = std::get_if<std::string>(&parsed)) {
            ADD_FAILURE() << *problem;
            return {};
        }
        return std::get<test::Exposition>(std::move(parsed));
    }

    std::ostringstream log_text_;
    std::shared_ptr<spdlog::logger> log_;
    boost::asio::io_context io_;
    core::TaskGroup tasks_{io_.get_executor(), log_};
    actions::CurlHttpClient http_;
    core::SystemClock clock_;
    std::unique_ptr<SlackWebApi> api_;
    std::unique_ptr<SlackSocketModeTransport> transport_;
    NoSink sink_;
    std::promise<void> ended_;
    std::thread loop_;
};

TEST_F(SocketModeReconnects, EachCauseIsCountedUnderItsLabelAndLoggedAsItHappened) {
    FakeSlackServer slack;
    start(slack);
    ASSERT_TRUE(slack.wait_for_connections(1, kWait));
    ASSERT_TRUE(settled(slack));
    std::size_t opened = 1;
    auto next = [&](const char* what) {
        ASSERT_TRUE(slack.wait_for_opened(++opened, kWait)) << what;
        ASSERT_TRUE(slack.wait_for_connections(1, kWait)) << what;
        ASSERT_TRUE(settled(slack)) << what;
    };
    slack.send_disconnect("warning");
    ASSERT_NO_FATAL_FAILURE(next("warning"));
    slack.send_disconnect("refresh_requested");
    ASSERT_NO_FATAL_FAILURE(next("refresh_requested"));
    slack.send_disconnect("maintenance_window");
    ASSERT_NO_FATAL_FAILURE(next("a reason rollbot does not know"));
    slack.close_connection(FakeSlackServer::kLatest, 1000);
    ASSERT_NO_FATAL_FAILURE(next("close frame"));
    slack.drop_connection(FakeSlackServer::kLatest, FakeSlackDrop::Fin);
    ASSERT_NO_FATAL_FAILURE(next("dropped"));
    stop();

    const std::map<ReconnectReason, std::uint64_t> expected{
        {ReconnectReason::Warning, 1},
        {ReconnectReason::RefreshRequested, 1},
        {ReconnectReason::Unknown, 1},
        {ReconnectReason::ClosedBySlack, 1},
        {ReconnectReason::ReadError, 1},
    };
    EXPECT_EQ(transport_->status().reconnects, expected) << "the first connection is no reconnect";
    const auto e = scrape();
    for (const char* label :
         {"warning", "refresh_requested", "unknown", "closed_by_slack", "read_error"}) {
        EXPECT_EQ(e.value("rollbot_slack_reconnects_total", {{"reason", label}}), 1) << label;
    }
    const std::string log = log_text_.str();
    EXPECT_THAT(log, HasSubstr("slack.connecting connection=1 host=127.0.0.1 reason=\"start\""));
    EXPECT_THAT(log, HasSubstr("connection=2 host=127.0.0.1 reason=\"warning\""));
    EXPECT_THAT(log, HasSubstr("connection=3 host=127.0.0.1 reason=\"refresh_requested\""));
    EXPECT_THAT(log, HasSubstr("slack.disconnect_requested connection=3 reason=unknown"));
    EXPECT_THAT(log, HasSubstr("connection=4 host=127.0.0.1 reason=\"unknown\""));
    EXPECT_THAT(log,
                HasSubstr("slack.disconnected connection=4 why=\"closed by Slack (code 1000)\""));
    EXPECT_THAT(log,
                HasSubstr("connection=5 host=127.0.0.1 reason=\"closed by Slack (code 1000)\""));
    EXPECT_THAT(log, HasSubstr("slack.disconnected connection=5 why=\"slack.ws.read: "));
    EXPECT_THAT(log, HasSubstr("connection=6 host=127.0.0.1 reason=\"slack.ws.read: "));
}

TEST_F(SocketModeReconnects, TheEndOfAConnectionsLifetimeIsCountedAsLifetime) {
    // Slack's lifetime is five hours; one second here, refreshed 100 ms before it runs out.
    FakeSlackServer slack(test::FakeSlackOptions{.approximate_connection_time = 1s});
    SocketModeOptions options;
    options.refresh_margin = 100ms;
    start(slack, options);
    ASSERT_TRUE(slack.wait_for_opened(2, kWait));
    ASSERT_TRUE(slack.wait_for_connections(1, kWait)) << "the old one retired after hello";
    stop();

    const auto& reconnects = transport_->status().reconnects;
    ASSERT_EQ(reconnects.size(), 1U);
    EXPECT_EQ(reconnects.begin()->first, ReconnectReason::Lifetime);
    EXPECT_GE(scrape().value("rollbot_slack_reconnects_total", {{"reason", "lifetime"}}), 1);
    EXPECT_THAT(log_text_.str(),
                HasSubstr("connection=2 host=127.0.0.1 reason=\"connection lifetime\""));
    EXPECT_THAT(log_text_.str(), HasSubstr("slack.retiring connection=1 replaced_by=2"))
        << "make before break";
}

}  // namespace
}  // namespace rollbot::slack
