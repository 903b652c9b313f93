#include "actions/health_verifier.hpp"

#include "actions/curl_http_client.hpp"
#include "test/support/async.hpp"
#include "test/support/fake_http_server.hpp"
#include "test/support/scripted_http_client.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using rollbot::actions::CurlHttpClient;
using rollbot::actions::HealthVerifier;
using rollbot::core::Error;
using rollbot::core::ErrorKind;
using rollbot::core::HealthCheck;
using rollbot::core::HttpResponse;
using rollbot::test::FakeHttpServer;
using rollbot::test::FakeRequest;
using rollbot::test::FakeResponse;
using rollbot::test::ScriptedHttpClient;

std::uint16_t closed_port() {
    asio::io_context io;
    asio::ip::tcp::acceptor acceptor(io, {asio::ip::address_v4::loopback(), 0});
    const auto port = acceptor.local_endpoint().port();
    acceptor.close();
    return port;
}

HttpResponse response(int status, std::chrono::milliseconds elapsed) {
    HttpResponse out;
    out.status = status;
    out.elapsed = elapsed;
    return out;
}

class HealthVerifierTest : public ::testing::Test {
protected:
    HealthCheck check(const std::string& url, std::chrono::milliseconds timeout = 5s) {
        HealthVerifier verifier(http_, url, timeout);
        return rollbot::test::run_task(io_, verifier.check_health(), 20s);
    }

    asio::io_context io_;
    CurlHttpClient http_;
};

TEST_F(HealthVerifierTest, TwoHundredIsHealthy) {
    FakeHttpServer server([](const FakeRequest&) { return FakeResponse{.body = "{\"ok\":1}"}; });

    const auto result = check(server.url("/api/v1/health"));

    EXPECT_TRUE(result.healthy);
    EXPECT_EQ(result.status, 200);
    EXPECT_TRUE(result.detail.starts_with("200 OK in ")) << result.detail;
    EXPECT_TRUE(result.detail.ends_with(" ms")) << result.detail;
    const auto seen = server.requests();
    ASSERT_EQ(seen.size(), 1U);
    EXPECT_EQ(seen[0].method, "GET");
    EXPECT_EQ(seen[0].target, "/api/v1/health");
}

TEST_F(HealthVerifierTest, ServiceUnavailableIsUnhealthyWithItsStatus) {
    FakeHttpServer server([](const FakeRequest&) { return FakeResponse{.status = 503}; });

    const auto result = check(server.url("/api/v1/health"));

    EXPECT_FALSE(result.healthy);
    EXPECT_EQ(result.status, 503);
    EXPECT_TRUE(result.detail.starts_with("503 in ")) << result.detail;
}

TEST_F(HealthVerifierTest, RedirectIsUnhealthyAndNotFollowed) {
    FakeHttpServer server([](const FakeRequest&) {
        return FakeResponse{.status = 301, .headers = {{"Location", "/login"}}};
    });

    const auto result = check(server.url("/api/v1/health"));

    EXPECT_FALSE(result.healthy);
    EXPECT_EQ(result.status, 301);
    EXPECT_NE(result.detail.find("redirect not followed"), std::string::npos) << result.detail;
    EXPECT_EQ(server.requests().size(), 1U);
}

TEST_F(HealthVerifierTest, NoAnswerIsUnhealthyWithTheReason) {
    const auto result = check("http://127.0.0.1:" + std::to_string(closed_port()) + "/health");

    EXPECT_FALSE(result.healthy);
    EXPECT_EQ(result.status, std::nullopt);
    EXPECT_EQ(result.detail, "no answer: connection refused");
}

TEST_F(HealthVerifierTest, SlowAnswerPastTheTimeoutIsUnhealthy) {
    FakeHttpServer server([](const FakeRequest&) { return FakeResponse{.delay = 5s}; });

    const auto result = check(server.url("/api/v1/health"), 200ms);

    EXPECT_FALSE(result.healthy);
    EXPECT_EQ(result.status, std::nullopt);
    EXPECT_TRUE(result.detail.starts_with("no answer: timed out")) << result.detail;
}

TEST_F(HealthVerifierTest, DetailNeverContainsTheQuery) {
    FakeHttpServer server([](const FakeRequest& request) {
        return FakeResponse{.status = request.target.starts_with("/up") ? 200 : 503};
    });
    const std::vector<std::string> urls{
        server.url("/up?token=s3cr3t"),
        server.url("/down?token=s3cr3t"),
        "http://127.0.0.1:" + std::to_string(closed_port()) + "/health?token=s3cr3t",
    };
    for (const auto& url : urls) {
        const auto result = check(url);
        EXPECT_EQ(result.detail.find("s3cr3t"), std::string::npos) << result.detail;
    }
}

TEST(HealthVerifierDetail, ReadsLikeARunbookLine) {
    asio::io_context io;
    ScriptedHttpClient ok(response(200, 35ms));
    ScriptedHttpClient down(response(503, 12ms));

    HealthVerifier up_verifier(ok, "http://erp/health");
    HealthVerifier down_verifier(down, "http://erp/health");

    const auto healthy = rollbot::test::run_task(io, up_verifier.check_health());
    const auto unhealthy = rollbot::test::run_task(io, down_verifier.check_health());

    EXPECT_EQ(healthy, (HealthCheck{true, 200, 35ms, "200 OK in 35 ms"}));
    EXPECT_EQ(unhealthy, (HealthCheck{false, 503, 12ms, "503 in 12 ms"}));
}

TEST(HealthVerifierDetail, SendsOneGetBoundedByTheTimeout) {
    asio::io_context io;
    ScriptedHttpClient http(response(204, 1ms));
    HealthVerifier verifier(http, "https://erp.preskool.com/api/v1/health", 2s);

    const auto result = rollbot::test::run_task(io, verifier.check_health());

    EXPECT_TRUE(result.healthy);
    ASSERT_EQ(http.requests().size(), 1U);
    const auto& request = http.requests()[0];
    EXPECT_EQ(request.method, "GET");
    EXPECT_EQ(request.url, "https://erp.preskool.com/api/v1/health");
    EXPECT_EQ(request.timeout, 2s);
    EXPECT_LE(request.connect_timeout, 2s);
}

TEST(HealthVerifierDetail, ScrubsTheQueryEvenIfTheClientQuotesTheUrl) {
    asio::io_context io;
    const std::string url = "https://erp.preskool.com/health?token=s3cr3t";
    ScriptedHttpClient http(Error{ErrorKind::Network, "fetch " + url + " failed"});

    HealthVerifier verifier(http, url);

    const auto result = rollbot::test::run_task(io, verifier.check_health());

    EXPECT_FALSE(result.healthy);
    EXPECT_TRUE(result.detail.starts_with("no answer: fetch ")) << result.detail;
    EXPECT_EQ(result.detail.find("s3cr3t"), std::string::npos) << result.detail;
}

}  // namespace
