// FakeSlackServer against a small Beast client of its own: what rollbot's Slack transport and
// Web API client will meet in the integration tests, plain and over TLS.
#include "test/support/fake_slack_server.hpp"

#include "test/support/async.hpp"
#include "test/support/fake_slack_stream.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace rollbot::test {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using fake_slack::FlexStream;
using fake_slack::TlsStream;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using namespace std::chrono_literals;

constexpr auto kNothrow = asio::as_tuple(asio::use_awaitable);
constexpr std::chrono::milliseconds kWait = 5s;  // anything on loopback happens well within
// For waits meant to fail, and for "nothing arrives": long enough that a frame already on its
// way would have landed, short enough to keep the suite quick.
constexpr std::chrono::milliseconds kShort = 300ms;
constexpr auto kAppAuth = "Bearer xapp-1-A0TEST-1-test";
constexpr auto kBotAuth = "Bearer xoxb-test-token";
constexpr auto kForm = "application/x-www-form-urlencoded";
constexpr auto kJson = "application/json; charset=utf-8";

struct Url {
    bool tls = false;
    std::uint16_t port = 0;
    std::string target;
};

Url parse_url(std::string_view url) {
    const auto scheme_end = url.find("://");
    const auto scheme = url.substr(0, scheme_end);
    const auto rest = url.substr(scheme_end + 3);
    const auto slash = rest.find('/');
    const auto authority = rest.substr(0, slash);
    const auto colon = authority.rfind(':');
    EXPECT_EQ(authority.substr(0, colon), "127.0.0.1");
    return Url{scheme == "https" || scheme == "wss",
               static_cast<std::uint16_t>(std::stoi(std::string(authority.substr(colon + 1)))),
               std::string(rest.substr(slash))};
}

struct HttpReply {
    int status = 0;
    std::string retry_after;
    std::string content_type;
    std::string body;
    [[nodiscard]] json parsed() const { return json::parse(body, nullptr, false); }
};

struct Frame {
    beast::error_code error;
    std::string text;
    bool binary = false;
};

/// Just enough of a Slack client to check the fake: one-shot HTTP/1.1 requests and one
/// websocket, plain or TLS. TLS verifies the chain against `ca_file` and the host name.
class TestClient {
public:
    explicit TestClient(const std::string& ca_file = FakeSlackServer::ca_file(),
                        std::string verify_host = "127.0.0.1")
        : verify_host_(std::move(verify_host)) {
        if (!ca_file.empty()) {
            tls_.load_verify_file(ca_file);
        }
        tls_.set_verify_mode(ssl::verify_peer);
    }

    HttpReply post(const std::string& url,
                   std::string body,
                   std::string content_type = kForm,
                   std::string authorization = kBotAuth);
    /// Opens the websocket; returns the status of the upgrade answer (101 = open).
    int connect(const std::string& url);
    Frame read(std::chrono::milliseconds timeout = kWait);
    /// Reads frames until one contains `what`; returns it.
    std::string read_until(std::string_view what);
    void write(std::string text);
    void ping(std::string payload);
    void close(std::uint16_t code);

    asio::io_context io_;
    ssl::context tls_{ssl::context::tls_client};
    std::string verify_host_;
    std::optional<websocket::stream<FlexStream>> ws_;
    beast::flat_buffer buffer_;
    std::size_t pongs_ = 0;
    std::string last_ping_;
};

asio::awaitable<FlexStream> open_stream(TestClient* client, Url url) {
    beast::tcp_stream tcp(co_await asio::this_coro::executor);
    tcp.expires_after(kWait);
    co_await tcp.async_connect({asio::ip::address_v4::loopback(), url.port}, asio::use_awaitable);
    if (!url.tls) {
        co_return FlexStream(std::move(tcp));
    }
    TlsStream stream(std::move(tcp), client->tls_);
    stream.set_verify_callback(ssl::host_name_verification(client->verify_host_));
    co_await stream.async_handshake(ssl::stream_base::client, asio::use_awaitable);
    co_return FlexStream(std::move(stream));
}

asio::awaitable<HttpReply> http_post(TestClient* client,
                                     Url url,
                                     std::string body,
                                     std::string content_type,
                                     std::string authorization) {
    auto stream = co_await open_stream(client, url);
    http::request<http::string_body> request{http::verb::post, url.target, 11};
    request.set(http::field::host, "127.0.0.1:" + std::to_string(url.port));
    request.set(http::field::content_type, content_type);
    if (!authorization.empty()) {
        request.set(http::field::authorization, authorization);
    }
    request.body() = std::move(body);
    request.prepare_payload();
    co_await http::async_write(stream, request, asio::use_awaitable);
    beast::flat_buffer buffer;
    http::response<http::string_body> response;
    co_await http::async_read(stream, buffer, response, asio::use_awaitable);
    co_return HttpReply{static_cast<int>(response.result_int()),
                        std::string(response[http::field::retry_after]),
                        std::string(response[http::field::content_type]),
                        response.body()};
}

asio::awaitable<int> ws_connect(TestClient* client, Url url) {
    client->ws_.emplace(co_await open_stream(client, url));
    auto& ws = *client->ws_;
    ws.control_callback([client](websocket::frame_type kind, beast::string_view payload) {
        if (kind == websocket::frame_type::pong) {
            ++client->pongs_;
        } else if (kind == websocket::frame_type::ping) {
            client->last_ping_ = std::string(payload);
        }
    });
    const std::string host = "127.0.0.1:" + std::to_string(url.port);
    websocket::response_type response;
    const auto [error] = co_await ws.async_handshake(response, host, url.target, kNothrow);
    (void)error;  // a declined upgrade shows in the status
    beast::get_lowest_layer(ws).expires_never();
    co_return static_cast<int>(response.result_int());
}

asio::awaitable<Frame> ws_read(TestClient* client, std::chrono::milliseconds timeout) {
    auto& ws = *client->ws_;
    beast::get_lowest_layer(ws).expires_after(timeout);
    const auto [error, n] = co_await ws.async_read(client->buffer_, kNothrow);
    (void)n;
    Frame frame{error, beast::buffers_to_string(client->buffer_.data()), !ws.got_text()};
    client->buffer_.consume(client->buffer_.size());
    if (!error) {
        beast::get_lowest_layer(ws).expires_never();
    }
    co_return frame;
}

asio::awaitable<beast::error_code> ws_write(TestClient* client, std::string text) {
    const auto [error, n] = co_await client->ws_->async_write(asio::buffer(text), kNothrow);
    (void)n;
    co_return error;
}

asio::awaitable<beast::error_code> ws_ping(TestClient* client, std::string payload) {
    const auto [error] = co_await client->ws_->async_ping(
        websocket::ping_data(payload.substr(0, websocket::ping_data::static_capacity)), kNothrow);
    co_return error;
}

asio::awaitable<beast::error_code> ws_close(TestClient* client, std::uint16_t code) {
    beast::get_lowest_layer(*client->ws_).expires_after(kWait);
    const auto [error] = co_await client->ws_->async_close(websocket::close_reason(code), kNothrow);
    co_return error;
}

/// Reads `count` envelopes and acks each at once, the way rollbot's transport must.
asio::awaitable<beast::error_code> ack_envelopes(TestClient* client, std::size_t count) {
    auto& ws = *client->ws_;
    for (std::size_t i = 0; i < count; ++i) {
        const auto [read_error, n] = co_await ws.async_read(client->buffer_, kNothrow);
        (void)n;
        if (read_error) {
            co_return read_error;
        }
        const auto envelope = json::parse(beast::buffers_to_string(client->buffer_.data()));
        client->buffer_.consume(client->buffer_.size());
        if (!envelope.contains("envelope_id")) {
            --i;  // hello
            continue;
        }
        const std::string ack = json{{"envelope_id", envelope["envelope_id"]}}.dump();
        const auto [write_error, m] = co_await ws.async_write(asio::buffer(ack), kNothrow);
        (void)m;
        if (write_error) {
            co_return write_error;
        }
    }
    co_return beast::error_code{};
}

HttpReply TestClient::post(const std::string& url,
                           std::string body,
                           std::string content_type,
                           std::string authorization) {
    return run_task(io_,
                    http_post(this,
                              parse_url(url),
                              std::move(body),
                              std::move(content_type),
                              std::move(authorization)),
                    kWait * 2);
}

int TestClient::connect(const std::string& url) {
    return run_task(io_, ws_connect(this, parse_url(url)), kWait * 2);
}

Frame TestClient::read(std::chrono::milliseconds timeout) {
    return run_task(io_, ws_read(this, timeout), timeout + kWait);
}

std::string TestClient::read_until(std::string_view what) {
    for (;;) {
        auto frame = read();
        if (frame.error) {
            ADD_FAILURE() << "read_until(" << what << "): " << frame.error.message();
            return {};
        }
        if (frame.text.find(what) != std::string::npos) {
            return frame.text;
        }
    }
}

void TestClient::write(std::string text) {
    EXPECT_FALSE(run_task(io_, ws_write(this, std::move(text)), kWait));
}

void TestClient::ping(std::string payload) {
    EXPECT_FALSE(run_task(io_, ws_ping(this, std::move(payload)), kWait));
}

void TestClient::close(std::uint16_t code) {
    EXPECT_FALSE(run_task(io_, ws_close(this, code), kWait * 2));
}

/// apps.connections.open with the app token: the socket URL.
std::string open_url(FakeSlackServer& slack, TestClient& client) {
    const auto reply = client.post(slack.api_url() + "apps.connections.open", "", kForm, kAppAuth);
    EXPECT_EQ(reply.status, 200);
    return reply.parsed().value("url", "");
}

/// Opens a connection and reads its hello.
json connect_and_hello(FakeSlackServer& slack, TestClient& client) {
    EXPECT_EQ(client.connect(open_url(slack, client)), 101);
    const auto frame = client.read();
    EXPECT_FALSE(frame.error) << frame.error.message();
    return json::parse(frame.text, nullptr, false);
}

TEST(FakeSlackServerSocketMode, OpenConnectionThenHello) {
    FakeSlackServer slack;
    TestClient client;
    const auto url = open_url(slack, client);
    EXPECT_THAT(url,
                StartsWith("ws://127.0.0.1:" + std::to_string(slack.port()) + "/link/?ticket="));
    EXPECT_THAT(url, HasSubstr("&app_id=A0TEST"));
    ASSERT_EQ(client.connect(url), 101);
    const auto hello = json::parse(client.read().text, nullptr, false);
    EXPECT_EQ(hello.value("type", ""), "hello");
    EXPECT_EQ(hello.value("num_connections", 0), 1);
    EXPECT_EQ(hello["debug_info"].value("host", ""), "applink-fake");
    EXPECT_EQ(hello["debug_info"].value("approximate_connection_time", 0), 18060);
    EXPECT_EQ(hello["connection_info"].value("app_id", ""), "A0TEST");
    ASSERT_TRUE(slack.wait_for_connections(1, kWait));

    TestClient second;
    EXPECT_EQ(connect_and_hello(slack, second).value("num_connections", 0), 2);
    EXPECT_EQ(slack.connections_opened(), 2U);
    EXPECT_EQ(slack.live_connections(), 2U);
}

TEST(FakeSlackServerSocketMode, AnEleventhConnectionIsToldTooManyWebsockets) {
    FakeSlackServer slack;
    std::vector<std::unique_ptr<TestClient>> clients;
    for (int i = 0; i < 10; ++i) {
        clients.push_back(std::make_unique<TestClient>());
        EXPECT_EQ(connect_and_hello(slack, *clients.back()).value("num_connections", 0), i + 1);
    }
    TestClient eleventh;
    EXPECT_EQ(connect_and_hello(slack, eleventh).value("num_connections", 0), 11);
    const auto disconnect = json::parse(eleventh.read().text, nullptr, false);
    EXPECT_EQ(disconnect.value("type", ""), "disconnect");
    EXPECT_EQ(disconnect.value("reason", ""), "too_many_websockets");
}

TEST(FakeSlackServerSocketMode, TicketsAreSingleUse) {
    FakeSlackServer slack;
    TestClient first;
    const auto url = open_url(slack, first);
    ASSERT_EQ(first.connect(url), 101);
    TestClient reuse;
    EXPECT_EQ(reuse.connect(url), 401);
    TestClient unknown;
    EXPECT_EQ(unknown.connect(url.substr(0, url.find("ticket=") + 7) + "made-up&app_id=A0TEST"),
              401);
    ASSERT_TRUE(slack.wait_for_call("socket_mode.connect", 3, kWait));
    std::vector<int> statuses;
    for (const auto& call : slack.calls()) {
        if (call.method == "socket_mode.connect") {
            statuses.push_back(call.status);
        }
    }
    EXPECT_EQ(statuses, (std::vector<int>{101, 401, 401}));
    EXPECT_EQ(slack.connections_opened(), 1U);
}

TEST(FakeSlackServerSocketMode, AppsConnectionsOpenChecksTheAppTokenAndTakesFaults) {
    FakeSlackServer slack;
    TestClient client;
    const auto open = slack.api_url() + "apps.connections.open";
    EXPECT_EQ(client.post(open, "", kForm, "").parsed().value("error", ""), "invalid_auth");
    EXPECT_EQ(client.post(open, "", kForm, kBotAuth).parsed().value("error", ""), "invalid_auth");

    slack.inject_fault("apps.connections.open", FakeSlackFault::slack_error("account_inactive"));
    slack.inject_fault("apps.connections.open", FakeSlackFault::rate_limited(3s));
    slack.inject_fault("apps.connections.open", FakeSlackFault::server_error(503));
    const auto inactive = client.post(open, "", kForm, kAppAuth);
    EXPECT_EQ(inactive.status, 200);
    EXPECT_EQ(inactive.parsed().value("error", ""), "account_inactive");
    const auto limited = client.post(open, "", kForm, kAppAuth);
    EXPECT_EQ(limited.status, 429);
    EXPECT_EQ(limited.retry_after, "3");
    EXPECT_EQ(limited.parsed().value("error", ""), "ratelimited");
    const auto down = client.post(open, "", kForm, kAppAuth);
    EXPECT_EQ(down.status, 503);
    EXPECT_THAT(down.content_type, StartsWith("text/html"));
    EXPECT_TRUE(down.parsed().is_discarded()) << "5xx bodies are HTML, not JSON";
    EXPECT_TRUE(client.post(open, "", kForm, kAppAuth).parsed().value("ok", false));

    slack.inject_fault("apps.connections.open",
                       FakeSlackFault::slack_error("invalid_auth", FakeSlackFault::kUntilCleared));
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(client.post(open, "", kForm, kAppAuth).parsed().value("error", ""),
                  "invalid_auth");
    }
    slack.clear_faults("apps.connections.open");
    EXPECT_TRUE(client.post(open, "", kForm, kAppAuth).parsed().value("ok", false));
    EXPECT_TRUE(slack.wait_for_call("apps.connections.open", 10, kWait));
}

TEST(FakeSlackServerSocketMode, SlashCommandEnvelopeAndItsAck) {
    FakeSlackServer slack;
    TestClient client;
    connect_and_hello(slack, client);
    const auto id = slack.send_slash_command("backend --dry-run", "U0ALICE", "C0INCIDENTS");
    const auto envelope = json::parse(client.read().text, nullptr, false);
    EXPECT_EQ(envelope.value("envelope_id", ""), id);
    EXPECT_EQ(envelope.value("type", ""), "slash_commands");
    EXPECT_TRUE(envelope.value("accepts_response_payload", false));
    const auto& payload = envelope["payload"];
    for (const auto& [key, value] : payload.items()) {
        EXPECT_TRUE(value.is_string()) << key << " is not a string";
    }
    EXPECT_EQ(payload.value("command", ""), "/rollback");
    EXPECT_EQ(payload.value("text", ""), "backend --dry-run");
    EXPECT_EQ(payload.value("user_id", ""), "U0ALICE");
    EXPECT_EQ(payload.value("channel_id", ""), "C0INCIDENTS");
    EXPECT_EQ(payload.value("is_enterprise_install", ""), "false");
    EXPECT_THAT(payload.value("response_url", ""),
                StartsWith("http://127.0.0.1:" + std::to_string(slack.port()) + "/respond/"));

    const auto unacked = slack.wait_for_ack(id, kShort);
    EXPECT_FALSE(unacked);
    EXPECT_THAT(unacked.message(), HasSubstr("written on connection #1"));
    client.write(json{{"envelope_id", id}, {"payload", {{"text", "on it"}}}}.dump());
    ASSERT_TRUE(slack.wait_for_ack(id, kWait));
    const auto acks = slack.acks();
    ASSERT_EQ(acks.size(), 1U);
    EXPECT_EQ(acks[0].connection, 1U);
    EXPECT_EQ(json::parse(acks[0].payload).value("text", ""), "on it");
    const auto latency = slack.ack_latency(id);
    ASSERT_TRUE(latency.has_value());
    EXPECT_EQ(acks[0].latency, latency);
    EXPECT_GT(latency->count(), 0);
    EXPECT_LT(*latency, kWait);
    EXPECT_THAT(slack.wait_for_ack("made-up", kShort).message(),
                HasSubstr("not built by this server"));
}

TEST(FakeSlackServerSocketMode, ResponseUrlPostsAreFoundByWaitForPost) {
    FakeSlackServer slack;
    TestClient client;
    connect_and_hello(slack, client);
    slack.send_slash_command("status", "U0ALICE", "C0INCIDENTS");
    const auto response_url = json::parse(client.read().text)["payload"].value("response_url", "");
    const auto reply = client.post(
        response_url, R"({"response_type":"in_channel","text":"Nothing is running"})", kJson, "");
    EXPECT_EQ(reply.status, 200);
    ASSERT_TRUE(slack.wait_for_post("C0INCIDENTS", "Nothing is running", kWait));
    EXPECT_EQ(slack.posts().at(0).response_type, "in_channel");
    EXPECT_EQ(client.post(response_url, "text=hi", kForm, "").status, 400);  // must be JSON
    for (int use = 2; use <= 5; ++use) {
        EXPECT_EQ(client.post(response_url, R"({"text":"again"})", kJson, "").status, 200);
    }
    const auto sixth = client.post(response_url, R"({"text":"again"})", kJson, "");
    EXPECT_EQ(sixth.status, 404);
    EXPECT_EQ(sixth.parsed().value("error", ""), "used_url");
    // A response_url a test wrote into its own envelope works too.
    const auto own = "http://127.0.0.1:" + std::to_string(slack.port()) + "/respond/own";
    EXPECT_EQ(client.post(own, R"({"text":"from a hand-made envelope"})", kJson, "").status, 200);
    EXPECT_TRUE(slack.wait_for_post("", "hand-made", kWait));
}

TEST(FakeSlackServerSocketMode, ReactionEnvelopesAreRealEventsApiEnvelopes) {
    FakeSlackServer slack;
    TestClient client;
    connect_and_hello(slack, client);
    const auto posted =
        client.post(slack.api_url() + "chat.postMessage", "channel=C0INCIDENTS&text=Approve%3F");
    const auto ts = posted.parsed().value("ts", "");
    ASSERT_FALSE(ts.empty()) << posted.body;

    slack.send_reaction(true, "U0DBA", "white_check_mark", "C0INCIDENTS", ts, "Ev0RETRY", 2);
    auto envelope = json::parse(client.read().text, nullptr, false);
    EXPECT_EQ(envelope.value("type", ""), "events_api");
    EXPECT_FALSE(envelope.value("accepts_response_payload", true));
    EXPECT_EQ(envelope.value("retry_attempt", -1), 2);
    EXPECT_EQ(envelope.value("retry_reason", ""), "timeout");
    EXPECT_EQ(envelope["payload"].value("event_id", ""), "Ev0RETRY");
    EXPECT_EQ(envelope["payload"].value("type", ""), "event_callback");
    auto event = envelope["payload"]["event"];
    EXPECT_EQ(event.value("type", ""), "reaction_added");
    EXPECT_EQ(event.value("user", ""), "U0DBA");
    EXPECT_EQ(event.value("reaction", ""), "white_check_mark");
    EXPECT_EQ(event["item"].value("ts", ""), ts);
    EXPECT_EQ(event.value("item_user", ""), "U0ROLLBOT");

    slack.send_reaction(false, "U0DBA", "x", "C0INCIDENTS", "1600000000.000100");
    envelope = json::parse(client.read().text, nullptr, false);
    event = envelope["payload"]["event"];
    EXPECT_EQ(event.value("type", ""), "reaction_removed");
    EXPECT_FALSE(event.contains("item_user")) << "not the bot's message";
    EXPECT_EQ(envelope.value("retry_attempt", -1), 0);
    EXPECT_THAT(envelope["payload"].value("event_id", ""), StartsWith("Ev"));
}

TEST(FakeSlackServerSocketMode, ClientPingGetsPong) {
    FakeSlackServer slack;
    TestClient client;
    connect_and_hello(slack, client);
    client.ping("are you there");
    client.write("after-ping");
    // The fake answers a ping before it reads on, so a frame sent now arrives after the pong.
    ASSERT_TRUE(slack.wait_for_frame("after-ping", kWait));
    slack.send_text("marker");
    client.read_until("marker");
    EXPECT_EQ(client.pongs_, 1U);
    EXPECT_EQ(slack.connections().at(0).client_pings, 1U);
}

TEST(FakeSlackServerSocketMode, StopReadingLeavesPingsUnanswered) {
    FakeSlackServer slack;
    TestClient client;
    connect_and_hello(slack, client);
    slack.stop_reading();
    client.ping("are you there");
    const auto frame = client.read(kShort);
    EXPECT_EQ(frame.error, beast::error::timeout);
    EXPECT_EQ(client.pongs_, 0U);
    EXPECT_FALSE(slack.connections().at(0).reading);
    // The client's timeout closed its socket: the fake notices even while not reading.
    EXPECT_TRUE(slack.wait_for_connections(0, kWait));
}

TEST(FakeSlackServerSocketMode, ServerPingsAtTheConfiguredInterval) {
    FakeSlackServer slack(FakeSlackOptions{.ping_interval = 20ms});
    TestClient client;
    connect_and_hello(slack, client);
    // The client answers pings only while a read is pending: keep one pending meanwhile.
    std::thread reader([&client] { client.read_until("done"); });
    const auto pongs = slack.wait_for_pongs(3, kWait);
    slack.send_text("done");
    reader.join();
    EXPECT_TRUE(pongs);
    EXPECT_EQ(client.last_ping_, "Ping from applink-fake");
}

TEST(FakeSlackServerSocketMode, DisconnectDropAndClose) {
    FakeSlackServer slack;
    TestClient first;
    connect_and_hello(slack, first);
    slack.send_disconnect("warning");
    const auto disconnect = json::parse(first.read().text, nullptr, false);
    EXPECT_EQ(disconnect.value("type", ""), "disconnect");
    EXPECT_EQ(disconnect.value("reason", ""), "warning");
    EXPECT_FALSE(disconnect.contains("envelope_id"));

    slack.drop_connection();
    EXPECT_EQ(slack.live_connections(), 0U);  // drop_connection returns once it is done
    const auto dropped = first.read();
    EXPECT_TRUE(dropped.error);
    EXPECT_NE(dropped.error, websocket::error::closed) << "no close frame on a drop";
    EXPECT_EQ(slack.connections().at(0).closed_by, FakeSlackClosedBy::ServerDrop);
    const auto lost = slack.send_slash_command("status", "U0ALICE", "C0INCIDENTS");
    EXPECT_THAT(slack.wait_for_ack(lost, kShort).message(), HasSubstr("never written"));

    TestClient second;
    connect_and_hello(slack, second);
    slack.drop_connection(FakeSlackServer::kLatest, FakeSlackDrop::Reset);
    EXPECT_EQ(second.read().error, asio::error::connection_reset);

    TestClient third;
    connect_and_hello(slack, third);
    slack.close_connection(FakeSlackServer::kLatest, 1012);
    EXPECT_EQ(third.read().error, websocket::error::closed);
    EXPECT_EQ(third.ws_->reason().code, 1012);
    EXPECT_EQ(slack.connections().at(2).closed_by, FakeSlackClosedBy::ServerClose);

    TestClient fourth;
    connect_and_hello(slack, fourth);
    fourth.close(websocket::close_code::normal);
    ASSERT_TRUE(slack.wait_for_connections(0, kWait));
    const auto closed = slack.connections().at(3);
    EXPECT_EQ(closed.closed_by, FakeSlackClosedBy::Client);
    EXPECT_TRUE(closed.client_close_frame);
    EXPECT_EQ(closed.close_code, 1000);
}

TEST(FakeSlackServerSocketMode, MalformedAndBinaryFramesReachTheClientAsSent) {
    FakeSlackServer slack;
    TestClient client;
    connect_and_hello(slack, client);
    slack.send_text("{\"envelope_id\": \"x\", truncated");
    slack.send_binary(std::string("\x00\x01\xff", 3));
    const auto text = client.read();
    EXPECT_FALSE(text.binary);
    EXPECT_EQ(text.text, "{\"envelope_id\": \"x\", truncated");
    const auto binary = client.read();
    EXPECT_TRUE(binary.binary);
    EXPECT_EQ(binary.text, std::string("\x00\x01\xff", 3));
    client.write("not json at all");
    ASSERT_TRUE(slack.wait_for_frame("not json", kWait));
    EXPECT_TRUE(slack.acks().empty());
}

TEST(FakeSlackServerSocketMode, AThousandEnvelopesAllAckedWithLatencies) {
    constexpr std::size_t kCount = 1000;
    FakeSlackServer slack;
    TestClient client;
    connect_and_hello(slack, client);
    std::vector<std::string> ids;
    for (std::size_t i = 0; i < kCount; ++i) {
        ids.push_back(slack.send_slash_command("status", "U0ALICE", "C0INCIDENTS"));
    }
    EXPECT_FALSE(run_task(client.io_, ack_envelopes(&client, kCount), kWait * 4));
    ASSERT_TRUE(slack.wait_for_acks(kCount, kWait));
    const auto envelopes = slack.envelopes();
    ASSERT_EQ(envelopes.size(), kCount);
    for (std::size_t i = 0; i < kCount; ++i) {
        EXPECT_EQ(envelopes[i].envelope_id, ids[i]);
        EXPECT_EQ(envelopes[i].acks, 1U);
        ASSERT_TRUE(envelopes[i].ack_latency().has_value()) << i;
    }
}

TEST(FakeSlackServerWebApi, BotTokenIsCheckedOnEveryMethod) {
    FakeSlackServer slack;
    TestClient client;
    const auto api = slack.api_url();
    EXPECT_EQ(client.post(api + "auth.test", "", kForm, "").parsed().value("error", ""),
              "invalid_auth");
    EXPECT_EQ(client.post(api + "auth.test", "", kForm, kAppAuth).parsed().value("error", ""),
              "invalid_auth");
    EXPECT_EQ(client.post(api + "chat.postMessage", "channel=C1&text=hi", kForm, "Bearer xoxb-no")
                  .parsed()
                  .value("error", ""),
              "invalid_auth");
    const auto auth = client.post(api + "auth.test", "").parsed();
    EXPECT_TRUE(auth.value("ok", false));
    EXPECT_EQ(auth.value("user_id", ""), "U0ROLLBOT");
    EXPECT_EQ(client.post(api + "chat.nope", "").parsed().value("error", ""), "unknown_method");
    EXPECT_TRUE(slack.posts().empty());
}

TEST(FakeSlackServerWebApi, RateLimitedPostThenRecordedPost) {
    FakeSlackServer slack;
    slack.add_channel("C0INCIDENTS", "preskool-incidents");
    TestClient client;
    const auto post = slack.api_url() + "chat.postMessage";
    slack.inject_fault("chat.postMessage", FakeSlackFault::rate_limited(7s));
    const std::string form = "channel=C0INCIDENTS&text=%E2%8F%AA+ROLLBACK+EXECUTED%3A%20backend";
    const auto limited = client.post(post, form);
    EXPECT_EQ(limited.status, 429);
    EXPECT_EQ(limited.retry_after, "7");
    EXPECT_TRUE(slack.posts().empty()) << "a 429 posts nothing";

    const auto posted = client.post(post, form).parsed();
    ASSERT_TRUE(posted.value("ok", false)) << posted.dump();
    EXPECT_EQ(posted.value("channel", ""), "C0INCIDENTS");
    EXPECT_EQ(posted["message"].value("text", ""), "⏪ ROLLBACK EXECUTED: backend");
    ASSERT_TRUE(slack.wait_for_post("C0INCIDENTS", "ROLLBACK EXECUTED: backend", kWait));
    const auto missing = slack.wait_for_post("C0INCIDENTS", "DRY RUN", kShort);
    EXPECT_FALSE(missing);
    EXPECT_THAT(missing.message(), HasSubstr("ROLLBACK EXECUTED"));
    EXPECT_THAT(missing.message(), HasSubstr("chat.postMessage → 429 ratelimited"));

    const auto next = client.post(post, "channel=C0INCIDENTS&text=second").parsed();
    EXPECT_GT(next.value("ts", ""), posted.value("ts", ""));
    EXPECT_EQ(client.post(post, "channel=C0ELSEWHERE&text=x").parsed().value("error", ""),
              "channel_not_found");
    ASSERT_TRUE(slack.wait_for_call("chat.postMessage", 4, kWait));
    const auto calls = slack.calls();
    EXPECT_EQ(calls.at(1).param("text"), "⏪ ROLLBACK EXECUTED: backend");
    EXPECT_EQ(calls.at(1).status, 200);
    EXPECT_EQ(calls.at(0).status, 429);
}

TEST(FakeSlackServerWebApi, UpdatesDirectoryAndOtherFaults) {
    FakeSlackServer slack;
    slack.add_user({"U0ALICE", "alice"});
    slack.add_user({"U0BOT2", "otherbot", true});
    slack.add_usergroup("S0DBA", {"U0ALICE"});
    TestClient client;
    const auto api = slack.api_url();
    const auto ts = client.post(api + "chat.postMessage", "channel=C1&text=Waiting+for+approval")
                        .parsed()
                        .value("ts", "");
    const auto update = json{{"channel", "C1"}, {"ts", ts}, {"text", "Approved by alice"}};
    EXPECT_TRUE(client.post(api + "chat.update", update.dump(), kJson).parsed().value("ok", false));
    ASSERT_TRUE(slack.wait_for_update("Approved by alice", kWait));
    EXPECT_FALSE(slack.wait_for_update("Rejected", kShort));
    const auto bad_ts = json{{"channel", "C1"}, {"ts", "1.000001"}, {"text", "x"}};
    EXPECT_EQ(client.post(api + "chat.update", bad_ts.dump(), kJson).parsed().value("error", ""),
              "message_not_found");

    const auto alice = client.post(api + "users.info", "user=U0ALICE").parsed();
    EXPECT_EQ(alice["user"].value("name", ""), "alice");
    EXPECT_FALSE(alice["user"].value("is_bot", true));
    EXPECT_TRUE(
        client.post(api + "users.info", "user=U0BOT2").parsed()["user"].value("is_bot", false));
    EXPECT_EQ(client.post(api + "users.info", "user=U0NOBODY").parsed().value("error", ""),
              "user_not_found");
    EXPECT_EQ(client.post(api + "usergroups.users.list", "usergroup=S0DBA").parsed()["users"],
              json::array({"U0ALICE"}));
    // Like Slack, usergroups.users.list does not read JSON bodies.
    EXPECT_EQ(client.post(api + "usergroups.users.list", R"({"usergroup":"S0DBA"})", kJson)
                  .parsed()
                  .value("error", ""),
              "invalid_arguments");

    slack.inject_fault("reactions.add", FakeSlackFault::server_error(500));
    const auto failed = client.post(api + "reactions.add", "channel=C1&name=eyes&timestamp=" + ts);
    EXPECT_EQ(failed.status, 500);
    EXPECT_THAT(failed.body, HasSubstr("<html>"));
    const auto react = "channel=C1&name=eyes&timestamp=" + ts;
    EXPECT_TRUE(client.post(api + "reactions.add", react).parsed().value("ok", false));
    EXPECT_EQ(client.post(api + "reactions.add", react).parsed().value("error", ""),
              "already_reacted");

    slack.inject_fault("chat.postEphemeral", FakeSlackFault::delayed(200ms));
    const auto started = std::chrono::steady_clock::now();
    const auto ephemeral =
        client.post(api + "chat.postEphemeral", "channel=C1&user=U0ALICE&text=hi");
    EXPECT_GE(std::chrono::steady_clock::now() - started, 200ms);
    EXPECT_TRUE(ephemeral.parsed().value("ok", false));
    EXPECT_TRUE(slack.wait_for_post("C1", "hi", kWait));
}

TEST(FakeSlackServerTls, HttpsAndWssVerifyAgainstTheTestCa) {
    FakeSlackServer slack(FakeSlackOptions{.tls = true});
    EXPECT_THAT(slack.api_url(), StartsWith("https://127.0.0.1:"));
    TestClient client;  // test CA, host name 127.0.0.1 checked against the IP SAN
    const auto url = open_url(slack, client);
    EXPECT_THAT(url, StartsWith("wss://127.0.0.1:"));
    ASSERT_EQ(client.connect(url), 101);
    EXPECT_EQ(json::parse(client.read().text, nullptr, false).value("type", ""), "hello");
    const auto id = slack.send_slash_command("help", "U0ALICE", "C0INCIDENTS");
    client.read_until(id);
    client.write(json{{"envelope_id", id}}.dump());
    EXPECT_TRUE(slack.wait_for_ack(id, kWait));
    slack.drop_connection();
    EXPECT_TRUE(client.read().error);

    TestClient untrusting("");
    EXPECT_THROW(untrusting.post(slack.api_url() + "auth.test", ""), boost::system::system_error);
    TestClient wrong_host(FakeSlackServer::ca_file(), "rollbot.invalid");
    EXPECT_THROW(wrong_host.post(slack.api_url() + "auth.test", ""), boost::system::system_error);
    TestClient by_name(FakeSlackServer::ca_file(), "localhost");
    EXPECT_TRUE(by_name.post(slack.api_url() + "auth.test", "").parsed().value("ok", false));
}

}  // namespace
}  // namespace rollbot::test
