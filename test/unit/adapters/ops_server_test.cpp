// rollbot's own HTTP endpoint, on 127.0.0.1 port 0, with its io_context on a thread.
#include "adapters/http/ops_server.hpp"

#include "bot/logging.hpp"
#include "bot/task_group.hpp"
#include "test/support/http_get.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>

#include <arpa/inet.h>
#include <future>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace rollbot::ops {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

// A connected socket that sends nothing (until told), closed at the end of the test.
class IdleClient {
public:
    explicit IdleClient(std::uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(port);
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        connected_ = ::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
    }
    ~IdleClient() { ::close(fd_); }
    IdleClient(const IdleClient&) = delete;
    IdleClient& operator=(const IdleClient&) = delete;

    /// True when the server closed the connection within `timeout`.
    [[nodiscard]] bool closed_by_server(std::chrono::milliseconds timeout) const {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) {
            return false;
        }
        char c = 0;
        return ::recv(fd_, &c, 1, 0) == 0;
    }
    [[nodiscard]] bool connected() const { return connected_; }

private:
    int fd_;
    bool connected_ = false;
};

class OpsServerTest : public ::testing::Test {
protected:
    void start(OpsServerOptions options = {}) {
        auto log = std::make_shared<spdlog::logger>(
            "test", std::make_shared<spdlog::sinks::null_sink_mt>());
        auto server = start_ops_server(tasks_, "127.0.0.1", 0, endpoints_, log, options);
        ASSERT_TRUE(server) << server.error().message;
        server_ = *server;
        port_ = server_->port();
        ASSERT_NE(port_, 0);
        thread_ = std::thread([this] { io_.run(); });
    }

    void TearDown() override {
        if (server_) {
            std::promise<void> stopped;
            boost::asio::post(io_, [&] {
                server_->stop();
                stopped.set_value();
            });
            stopped.get_future().wait();
        }
        if (thread_.joinable()) {
            thread_.join();  // the loop ends once the server's coroutines have
        }
    }

    boost::asio::io_context io_;
    core::TaskGroup tasks_{io_.get_executor(), core::null_logger("tasks")};
    core::Metrics metrics_;
    bool ready_ = false;  // read on the io thread only after being set before start()
    core::OpsEndpoints endpoints_{metrics_, [this] {
                                      return std::vector<core::ReadinessCheck>{
                                          {"state", ready_, ready_ ? "writable" : "read-only"}};
                                  }};
    std::shared_ptr<OpsServer> server_;
    std::uint16_t port_ = 0;
    std::thread thread_;
};

TEST_F(OpsServerTest, AnswersTheThreeEndpoints) {
    metrics_.define("x_total", core::MetricType::Counter, "X");
    start();
    auto health = test::http_get(port_, "/healthz");
    EXPECT_EQ(health.status, 200);
    EXPECT_EQ(health.body, "ok\n");
    auto ready = test::http_get(port_, "/readyz?verbose=1");  // the query is ignored
    EXPECT_EQ(ready.status, 503);
    EXPECT_THAT(ready.body, HasSubstr("FAIL state: read-only"));
    auto metrics = test::http_get(port_, "/metrics");
    EXPECT_EQ(metrics.status, 200);
    EXPECT_THAT(metrics.headers, HasSubstr("text/plain; version=0.0.4"));
    EXPECT_THAT(metrics.body, HasSubstr("x_total 0\n"));
}

TEST_F(OpsServerTest, HeadHasTheLengthAndNoBody) {
    start();
    auto head = test::http_get(port_, "/healthz", "HEAD");
    EXPECT_EQ(head.status, 200);
    EXPECT_THAT(head.headers, HasSubstr("Content-Length: 3"));
    EXPECT_EQ(head.body, "");
}

TEST_F(OpsServerTest, OtherMethodsAndPathsAreRefused) {
    start();
    auto post = test::http_get(port_, "/readyz", "POST");
    EXPECT_EQ(post.status, 405);
    EXPECT_THAT(post.headers, HasSubstr("Allow: GET, HEAD"));
    EXPECT_EQ(test::http_get(port_, "/", "GET").status, 404);
    EXPECT_EQ(test::http_get(port_, "/metrics/../etc/passwd").status, 404);
    EXPECT_EQ(test::http_get(port_, "/healthz", "DELETE").status, 405);
}

TEST_F(OpsServerTest, MalformedOrOversizedRequestsGet400) {
    start();
    EXPECT_EQ(test::http_exchange(port_, "HELLO THERE\r\n\r\n").status, 400);
    const std::string huge =
        "GET /healthz HTTP/1.1\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n";
    EXPECT_EQ(test::http_exchange(port_, huge).status, 400);
    EXPECT_EQ(test::http_exchange(port_,
                                  "GET /healthz HTTP/1.1\r\nContent-Length: 5\r\n"
                                  "Connection: close\r\n\r\nhello")
                  .status,
              400);
    EXPECT_EQ(test::http_get(port_, "/healthz").status, 200) << "and it keeps serving";
}

TEST_F(OpsServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
    start();
    auto raw = test::http_exchange(port_,
                                   "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n"
                                   "GET /readyz HTTP/1.1\r\nHost: a\r\n\r\n"
                                   "GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    std::size_t answers = 0;
    for (auto at = raw.raw.find("HTTP/1.1 "); at != std::string::npos;
         at = raw.raw.find("HTTP/1.1 ", at + 1)) {
        ++answers;
    }
    EXPECT_EQ(answers, 3U) << raw.raw;
}

TEST_F(OpsServerTest, SilentClientsNeitherBlockOthersNorStayForever) {
    OpsServerOptions options;
    options.request_timeout = 300ms;
    start(options);
    IdleClient silent(port_);
    ASSERT_TRUE(silent.connected());
    EXPECT_EQ(test::http_get(port_, "/healthz").status, 200) << "served beside a silent client";
    EXPECT_TRUE(silent.closed_by_server(5s)) << "the silent client is dropped after its deadline";
}

TEST_F(OpsServerTest, ConnectionsBeyondTheCapAreClosedAtOnce) {
    OpsServerOptions options;
    options.max_connections = 2;
    start(options);
    IdleClient a(port_);
    IdleClient b(port_);
    ASSERT_TRUE(a.connected() && b.connected());
    // The two idle ones hold both places once accepted; the next is closed without an answer.
    for (int attempt = 0; attempt < 50; ++attempt) {
        auto third = test::http_get(port_, "/healthz");
        if (third.status == 0) {
            SUCCEED();
            return;
        }
    }
    ADD_FAILURE() << "a third connection was served while two were held";
}

TEST_F(OpsServerTest, TakenPortIsAStartUpError) {
    start();
    auto log =
        std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>());
    boost::asio::io_context other;
    core::TaskGroup other_tasks(other.get_executor(), log);
    auto again = start_ops_server(other_tasks, "127.0.0.1", port_, endpoints_, log);
    ASSERT_FALSE(again);
    EXPECT_THAT(again.error().message, HasSubstr("bind"));
    EXPECT_THAT(again.error().message, HasSubstr(std::to_string(port_)));
}

}  // namespace
}  // namespace rollbot::ops
