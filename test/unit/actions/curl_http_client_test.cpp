#include "actions/curl_http_client.hpp"

#include "bot/http.hpp"
#include "test/support/async.hpp"
#include "test/support/fake_http_server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <variant>
#include <vector>

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using rollbot::actions::CurlHttpClient;
using rollbot::actions::CurlHttpClientOptions;
using rollbot::core::ErrorKind;
using rollbot::core::HttpRequest;
using rollbot::core::HttpResponse;
using rollbot::core::Result;
using rollbot::test::FakeHttpServer;
using rollbot::test::FakeRequest;
using rollbot::test::FakeResponse;

HttpRequest get(std::string url) {
    HttpRequest request;
    request.url = std::move(url);
    request.timeout = 5s;
    return request;
}

/// A loopback port nobody listens on: bound, then closed again.
std::uint16_t closed_port() {
    asio::io_context io;
    asio::ip::tcp::acceptor acceptor(io, {asio::ip::address_v4::loopback(), 0});
    const auto port = acceptor.local_endpoint().port();
    acceptor.close();
    return port;
}

FakeResponse status_from_target(const FakeRequest& request) {
    return FakeResponse{.status = std::stoi(request.target.substr(1))};
}

class CurlHttpClientTest : public ::testing::Test {
protected:
    explicit CurlHttpClientTest(CurlHttpClientOptions options = {}) : client_(std::move(options)) {}

    Result<HttpResponse> send(HttpRequest request) {
        return rollbot::test::run_task(io_, client_.send(std::move(request)), 20s);
    }

    asio::io_context io_;
    CurlHttpClient client_;
};

TEST_F(CurlHttpClientTest, GetReturnsStatusLowerCasedHeadersAndBody) {
    FakeHttpServer server([](const FakeRequest&) {
        return FakeResponse{.headers = {{"X-Trace", "t-1"}}, .body = "hello"};
    });
    auto request = get(server.url("/health?verbose=1"));
    request.headers = {{"X-Request-Id", "r-42"}};

    const auto answer = send(request);

    ASSERT_TRUE(answer.has_value()) << answer.error().message;
    EXPECT_EQ(answer->status, 200);
    EXPECT_EQ(answer->body, "hello");
    ASSERT_NE(answer->header("x-trace"), nullptr);
    EXPECT_EQ(*answer->header("x-trace"), "t-1");
    const auto seen = server.requests();
    ASSERT_EQ(seen.size(), 1U);
    EXPECT_EQ(seen[0].method, "GET");
    EXPECT_EQ(seen[0].target, "/health?verbose=1");
    ASSERT_NE(seen[0].header("x-request-id"), nullptr);
    EXPECT_EQ(*seen[0].header("x-request-id"), "r-42");
    ASSERT_NE(seen[0].header("user-agent"), nullptr);
    EXPECT_EQ(*seen[0].header("user-agent"), std::string("rollbot/") + ROLLBOT_VERSION);
}

TEST_F(CurlHttpClientTest, PostSendsBodyAndHeadersWithoutWaitingFor100Continue) {
    FakeHttpServer server([](const FakeRequest& request) {
        return FakeResponse{.status = 201, .body = request.body};
    });
    // Over 1 MiB: libcurl would otherwise send `Expect: 100-continue` and stall for a second.
    const std::string text(2U * 1024 * 1024, 'x');
    HttpRequest request = get(server.url("/api/chat.postMessage"));
    request.method = "POST";
    request.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                       {"Authorization", "Bearer xoxb-not-a-real-token"}};
    request.body = "channel=C0123&text=" + rollbot::core::form_encode(text + " & more");

    const auto answer = send(request);

    ASSERT_TRUE(answer.has_value()) << answer.error().message;
    EXPECT_EQ(answer->status, 201);
    EXPECT_EQ(answer->body, request.body);
    const auto seen = server.requests();
    ASSERT_EQ(seen.size(), 1U);
    EXPECT_EQ(seen[0].method, "POST");
    EXPECT_EQ(seen[0].body, request.body);
    EXPECT_EQ(seen[0].header("expect"), nullptr);
    ASSERT_NE(seen[0].header("authorization"), nullptr);
    EXPECT_EQ(*seen[0].header("authorization"), "Bearer xoxb-not-a-real-token");
    ASSERT_NE(seen[0].header("content-type"), nullptr);
    EXPECT_EQ(*seen[0].header("content-type"), "application/x-www-form-urlencoded");
}

TEST_F(CurlHttpClientTest, AnyStatusIsAResponseNotAnError) {
    FakeHttpServer server(status_from_target);
    for (const int status : {200, 404, 503}) {
        const auto answer = send(get(server.url("/" + std::to_string(status))));
        ASSERT_TRUE(answer.has_value()) << status << ": " << answer.error().message;
        EXPECT_EQ(answer->status, status);
    }
}

TEST_F(CurlHttpClientTest, RedirectIsReturnedAsIsNotFollowed) {
    FakeHttpServer server([](const FakeRequest& request) {
        if (request.target == "/old") {
            return FakeResponse{.status = 301, .headers = {{"Location", "/new"}}};
        }
        return FakeResponse{};
    });

    const auto answer = send(get(server.url("/old")));

    ASSERT_TRUE(answer.has_value()) << answer.error().message;
    EXPECT_EQ(answer->status, 301);
    ASSERT_NE(answer->header("location"), nullptr);
    EXPECT_EQ(*answer->header("location"), "/new");
    EXPECT_EQ(server.requests().size(), 1U);
}

TEST_F(CurlHttpClientTest, ConnectionRefusedIsANetworkErrorNamingTheHost) {
    const auto port = closed_port();
    const auto host = "127.0.0.1:" + std::to_string(port);

    const auto answer = send(get("http://" + host + "/"));

    ASSERT_TRUE(answer.has_error());
    EXPECT_EQ(answer.error().kind, ErrorKind::Network);
    EXPECT_EQ(answer.error().message, "http.send: GET " + host + ": connection refused");
}

TEST_F(CurlHttpClientTest, AnswerAfterTheDeadlineIsATimeout) {
    FakeHttpServer server([](const FakeRequest&) { return FakeResponse{.delay = 5s}; });
    auto request = get(server.url("/slow"));
    request.timeout = 200ms;

    const auto answer = send(request);

    ASSERT_TRUE(answer.has_error());
    EXPECT_EQ(answer.error().kind, ErrorKind::Timeout);
    EXPECT_TRUE(answer.error().message.starts_with("http.send: GET 127.0.0.1:"))
        << answer.error().message;
}

TEST_F(CurlHttpClientTest, ConnectionClosedWithoutAnswerIsANetworkError) {
    FakeHttpServer server(
        [](const FakeRequest&) { return FakeResponse{.close_without_response = true}; });

    const auto answer = send(get(server.url("/")));

    ASSERT_TRUE(answer.has_error());
    EXPECT_EQ(answer.error().kind, ErrorKind::Network) << answer.error().message;
}

TEST_F(CurlHttpClientTest, HttpsToAPlainHttpServerIsATlsError) {
    FakeHttpServer server;

    const auto answer = send(get("https://127.0.0.1:" + std::to_string(server.port()) + "/"));

    ASSERT_TRUE(answer.has_error());
    EXPECT_EQ(answer.error().kind, ErrorKind::Tls) << answer.error().message;
}

TEST_F(CurlHttpClientTest, ErrorMessagesNeverContainPathQueryOrHeaderValues) {
    FakeHttpServer slow([](const FakeRequest&) { return FakeResponse{.delay = 5s}; });
    const std::string secret_path = "/hooks/T0001/B0002/s3cr3tpath?ticket=abc123";
    auto refused = get("http://127.0.0.1:" + std::to_string(closed_port()) + secret_path);
    auto timed_out = get(slow.url(secret_path));
    timed_out.timeout = 200ms;

    for (auto request : {refused, timed_out}) {
        request.headers = {{"Authorization", "Bearer xoxb-123-secret"}};
        const auto answer = send(request);
        ASSERT_TRUE(answer.has_error());
        const auto& message = answer.error().message;
        EXPECT_TRUE(message.starts_with("http.send: GET 127.0.0.1:")) << message;
        for (const char* secret : {"ticket", "abc123", "s3cr3t", "/hooks", "xoxb", "Bearer"}) {
            EXPECT_EQ(message.find(secret), std::string::npos) << secret << " in: " << message;
        }
    }
}

TEST_F(CurlHttpClientTest, RefusesSchemesOtherThanHttpAndHttps) {
    FakeHttpServer server;
    const auto ftp = "ftp://127.0.0.1:" + std::to_string(server.port()) + "/pub/file";

    for (const auto& url : {std::string("file:///etc/passwd"), ftp}) {
        const auto answer = send(get(url));
        ASSERT_TRUE(answer.has_error()) << url;
        EXPECT_EQ(answer.error().kind, ErrorKind::Invalid) << url;
        EXPECT_NE(answer.error().message.find("only http and https"), std::string::npos)
            << answer.error().message;
        EXPECT_EQ(answer.error().message.find("passwd"), std::string::npos);
    }
    EXPECT_TRUE(server.requests().empty());
}

TEST_F(CurlHttpClientTest, RefusesHeaderValuesWithLineBreaks) {
    FakeHttpServer server;
    auto request = get(server.url("/"));
    request.headers = {{"X-Note", "ok\r\nX-Injected: yes"}};

    const auto answer = send(request);

    ASSERT_TRUE(answer.has_error());
    EXPECT_EQ(answer.error().kind, ErrorKind::Invalid);
    EXPECT_TRUE(server.requests().empty());
}

class CurlHttpClientBodyCapTest : public CurlHttpClientTest {
protected:
    CurlHttpClientBodyCapTest() : CurlHttpClientTest({.max_body_bytes = 1024}) {}
};

TEST_F(CurlHttpClientBodyCapTest, BodyAtTheCapIsDeliveredAndOneByteMoreIsAProtocolError) {
    FakeHttpServer server([](const FakeRequest& request) {
        return FakeResponse{.body = std::string(std::stoul(request.target.substr(1)), 'b')};
    });

    const auto at_cap = send(get(server.url("/1024")));
    const auto over_cap = send(get(server.url("/1025")));

    ASSERT_TRUE(at_cap.has_value()) << at_cap.error().message;
    EXPECT_EQ(at_cap->body.size(), 1024U);
    ASSERT_TRUE(over_cap.has_error());
    EXPECT_EQ(over_cap.error().kind, ErrorKind::Protocol);
    EXPECT_NE(over_cap.error().message.find("1024 byte limit"), std::string::npos)
        << over_cap.error().message;
}

TEST_F(CurlHttpClientBodyCapTest, ChunkedBodyOverTheCapIsAProtocolErrorToo) {
    // No Content-Length, so the cap has to hold while the body streams in.
    FakeHttpServer server([](const FakeRequest&) {
        return FakeResponse{.headers = {{"Transfer-Encoding", "chunked"}},
                            .body = std::string(64U * 1024, 'b')};
    });

    const auto answer = send(get(server.url("/stream")));

    ASSERT_TRUE(answer.has_error());
    EXPECT_EQ(answer.error().kind, ErrorKind::Protocol) << answer.error().message;
}

asio::awaitable<void> send_and_note_thread(CurlHttpClient* client,
                                           HttpRequest request,
                                           std::thread::id* resumed_on) {
    const auto answer = co_await client->send(std::move(request));
    *resumed_on = std::this_thread::get_id();
    EXPECT_TRUE(answer.has_value());
}

TEST_F(CurlHttpClientTest, ResumesOnTheCallersIoContextThread) {
    FakeHttpServer server;
    std::thread::id resumed_on;

    rollbot::test::run_task(io_, send_and_note_thread(&client_, get(server.url("/")), &resumed_on));

    EXPECT_EQ(resumed_on, std::this_thread::get_id());
}

asio::awaitable<void> note_after(std::chrono::milliseconds delay, std::vector<std::string>* log) {
    asio::steady_timer timer(co_await asio::this_coro::executor, delay);
    co_await timer.async_wait(asio::use_awaitable);
    log->emplace_back("timer");
}

asio::awaitable<void> note_answer(CurlHttpClient* client,
                                  HttpRequest request,
                                  std::vector<std::string>* log) {
    const auto answer = co_await client->send(std::move(request));
    log->emplace_back(answer.has_value() ? "answer" : answer.error().message);
}

asio::awaitable<void> timer_and_request(CurlHttpClient* client,
                                        HttpRequest request,
                                        std::vector<std::string>* log) {
    using namespace asio::experimental::awaitable_operators;
    co_await (note_after(50ms, log) && note_answer(client, std::move(request), log));
}

TEST_F(CurlHttpClientTest, TheIoContextKeepsRunningWhileARequestIsInFlight) {
    FakeHttpServer server([](const FakeRequest&) { return FakeResponse{.delay = 500ms}; });
    std::vector<std::string> log;

    rollbot::test::run_task(io_, timer_and_request(&client_, get(server.url("/")), &log));

    EXPECT_EQ(log, (std::vector<std::string>{"timer", "answer"}));
}

asio::awaitable<std::variant<std::monostate, Result<HttpResponse>>> race_timer(
    CurlHttpClient* client, HttpRequest request, std::chrono::milliseconds limit) {
    using namespace asio::experimental::awaitable_operators;
    asio::steady_timer timer(co_await asio::this_coro::executor, limit);
    co_return co_await (timer.async_wait(asio::use_awaitable) || client->send(std::move(request)));
}

TEST_F(CurlHttpClientTest, CancellingTheOperationAbortsTheTransfer) {
    FakeHttpServer server([](const FakeRequest&) { return FakeResponse{.delay = 30s}; });
    auto request = get(server.url("/hang"));
    request.timeout = 30s;

    // If cancellation were ignored, `||` would wait the full 30 s and run_task would throw.
    const auto winner =
        rollbot::test::run_task(io_, race_timer(&client_, std::move(request), 100ms), 10s);

    EXPECT_EQ(winner.index(), 0U);
}

TEST(CurlHttpClientShutdown, DestroyingTheClientCancelsRequestsInFlight) {
    FakeHttpServer server([](const FakeRequest&) { return FakeResponse{.delay = 30s}; });
    asio::io_context io;
    std::optional<CurlHttpClient> client(std::in_place);
    auto request = get(server.url("/hang"));
    request.timeout = 30s;
    std::optional<Result<HttpResponse>> outcome;
    asio::co_spawn(io, client->send(request), [&](std::exception_ptr, Result<HttpResponse> r) {
        outcome = std::move(r);
    });
    io.poll();
    ASSERT_TRUE(server.wait_for_requests(1, 5s));

    client.reset();
    io.run_for(10s);

    ASSERT_TRUE(outcome.has_value());
    ASSERT_TRUE(outcome->has_error());
    EXPECT_EQ(outcome->error().kind, ErrorKind::Cancelled) << outcome->error().message;
}

asio::awaitable<std::vector<Result<HttpResponse>>> send_four(CurlHttpClient* client,
                                                             FakeHttpServer* server) {
    using namespace asio::experimental::awaitable_operators;
    auto [a, b, c, d] =
        co_await (client->send(get(server->url("/a"))) && client->send(get(server->url("/b"))) &&
                  client->send(get(server->url("/c"))) && client->send(get(server->url("/d"))));
    co_return std::vector<Result<HttpResponse>>{a, b, c, d};
}

class CurlHttpClientPoolTest : public CurlHttpClientTest {
protected:
    CurlHttpClientPoolTest() : CurlHttpClientTest({.threads = 4}) {}
};

TEST_F(CurlHttpClientPoolTest, ConcurrentRequestsAllCompleteInParallel) {
    FakeHttpServer server([](const FakeRequest& request) {
        return FakeResponse{.body = request.target, .delay = 1s};
    });
    const auto start = std::chrono::steady_clock::now();

    const auto answers = rollbot::test::run_task(io_, send_four(&client_, &server));

    // One after another would take 4 s; in parallel about 1 s. The bound is deliberately loose.
    EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
    ASSERT_EQ(answers.size(), 4U);
    const std::vector<std::string> targets{"/a", "/b", "/c", "/d"};
    for (std::size_t i = 0; i < answers.size(); ++i) {
        ASSERT_TRUE(answers[i].has_value()) << answers[i].error().message;
        EXPECT_EQ(answers[i]->body, targets[i]);
    }
    EXPECT_EQ(server.requests().size(), 4U);
}

class CurlHttpClientOneThreadTest : public CurlHttpClientTest {
protected:
    CurlHttpClientOneThreadTest() : CurlHttpClientTest({.threads = 1}) {}
};

// Each Web API call to Slack must not pay a new TCP + TLS handshake: requests one after another
// go over one keep-alive connection, and nothing of one request (headers, method, body) leaks
// into the next one on that connection. A request that timed out does not poison the handle.
TEST_F(CurlHttpClientOneThreadTest, SequentialRequestsReuseOneConnectionAndNothingElse) {
    FakeHttpServer server([](const FakeRequest& request) {
        return FakeResponse{.body = request.target, .delay = request.target == "/slow" ? 3s : 0s};
    });
    HttpRequest first = get(server.url("/first"));
    first.method = "POST";
    first.headers = {{"Authorization", "Bearer xoxb-first"}};
    first.body = "a=1";
    ASSERT_TRUE(send(first).has_value());
    ASSERT_TRUE(send(get(server.url("/second"))).has_value());
    HttpRequest slow = get(server.url("/slow"));
    slow.timeout = 200ms;
    const auto timed_out = send(slow);
    ASSERT_FALSE(timed_out.has_value());
    EXPECT_EQ(timed_out.error().kind, ErrorKind::Timeout);
    const auto third = send(get(server.url("/third")));
    ASSERT_TRUE(third.has_value()) << third.error().message;
    EXPECT_EQ(third->body, "/third");

    const auto seen = server.requests();
    ASSERT_EQ(seen.size(), 4U);
    EXPECT_EQ(seen[0].connection, 1U);
    EXPECT_EQ(seen[1].connection, 1U) << "the second request reused the first's connection";
    EXPECT_EQ(seen[1].method, "GET");
    EXPECT_EQ(seen[1].header("authorization"), nullptr) << "the first request's header leaked";
    EXPECT_TRUE(seen[1].body.empty());
    EXPECT_NE(seen[3].connection, seen[2].connection)
        << "the connection of the timed-out request is not reused";
}

TEST(FormEncode, KeepsUnreservedCharacters) {
    EXPECT_EQ(rollbot::core::form_encode("AZaz09-._~"), "AZaz09-._~");
    EXPECT_EQ(rollbot::core::form_encode(""), "");
}

TEST(FormEncode, SpaceBecomesPlus) {
    EXPECT_EQ(rollbot::core::form_encode("roll back now"), "roll+back+now");
}

TEST(FormEncode, ReservedAndControlCharactersArePercentEncodedUpperCase) {
    EXPECT_EQ(rollbot::core::form_encode("a&b=c/d?e#f+g%h"), "a%26b%3Dc%2Fd%3Fe%23f%2Bg%25h");
    EXPECT_EQ(rollbot::core::form_encode("line\nbreak\t"), "line%0Abreak%09");
    EXPECT_EQ(rollbot::core::form_encode(std::string("nul\0", 4)), "nul%00");
}

TEST(FormEncode, Utf8IsEncodedBytewise) {
    EXPECT_EQ(rollbot::core::form_encode("é ✅"), "%C3%A9+%E2%9C%85");
    EXPECT_EQ(rollbot::core::form_encode("\xff"), "%FF");
}

TEST(FormEncode, PromQlQuerySurvivesAsOneValue) {
    EXPECT_EQ(rollbot::core::form_encode("sum(rate(http_req_failed[5m])) / 2"),
              "sum%28rate%28http_req_failed%5B5m%5D%29%29+%2F+2");
}

}  // namespace
