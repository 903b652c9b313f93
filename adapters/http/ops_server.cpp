#include "adapters/http/ops_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>

#include <map>

namespace rollbot::ops {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Tcp = asio::ip::tcp;
constexpr auto kNothrow = asio::as_tuple(asio::use_awaitable);

core::OpsResponse plain(int status, std::string body) {
    return core::OpsResponse{status, "text/plain; charset=utf-8", std::move(body)};
}

class Server final : public OpsServer, public std::enable_shared_from_this<Server> {
public:
    Server(core::TaskGroup& tasks,
           core::OpsEndpoints& endpoints,
           std::shared_ptr<spdlog::logger> log,
           OpsServerOptions options)
        : tasks_(tasks),
          executor_(tasks.executor()),
          endpoints_(endpoints),
          log_(std::move(log)),
          options_(options),
          acceptor_(executor_) {}

    core::Result<void> bind(const std::string& host, std::uint16_t port) {
        boost::system::error_code ec;
        const auto address = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
        if (ec) {
            return core::make_error(core::ErrorKind::Invalid,
                                    fmt::format("http.listen: {} is not an address", host));
        }
        const Tcp::endpoint endpoint{address, port};
        const auto fail = [&](std::string_view what) {
            return core::make_error(
                core::ErrorKind::Unavailable,
                fmt::format("http.listen {}:{}: {}: {}", host, port, what, ec.message()));
        };
        if (acceptor_.open(endpoint.protocol(), ec); ec) {
            return fail("open");
        }
        if (acceptor_.set_option(asio::socket_base::reuse_address(true), ec); ec) {
            return fail("SO_REUSEADDR");
        }
        if (acceptor_.bind(endpoint, ec); ec) {
            return fail("bind");
        }
        if (acceptor_.listen(asio::socket_base::max_listen_connections, ec); ec) {
            return fail("listen");
        }
        port_ = acceptor_.local_endpoint(ec).port();
        return {};
    }

    void start() {
        auto self = shared_from_this();
        tasks_.spawn("http.accept", accept_loop(self), core::TaskGroup::Kind::Background);
    }

    [[nodiscard]] std::uint16_t port() const override { return port_; }

    void stop() override {
        stopped_ = true;
        boost::system::error_code ignored;
        acceptor_.close(ignored);
        for (auto& [id, socket] : sessions_) {
            socket->close(ignored);
        }
    }

private:
    using Self = std::shared_ptr<Server>;

    asio::awaitable<void> accept_loop(Self self) {
        asio::steady_timer pause(executor_);
        while (!stopped_) {
            auto [ec, socket] = co_await acceptor_.async_accept(kNothrow);
            if (stopped_) {
                co_return;
            }
            if (ec) {
                // Out of file descriptors and the like: say so, and do not spin on it.
                log_->warn("http.accept failed error={}", ec.message());
                pause.expires_after(std::chrono::milliseconds(200));
                co_await pause.async_wait(kNothrow);
                continue;
            }
            if (sessions_.size() >= options_.max_connections) {
                boost::system::error_code ignored;
                socket.close(ignored);
                continue;
            }
            const std::uint64_t id = ++next_id_;
            tasks_.spawn("http.session",
                         session(self, id, beast::tcp_stream(std::move(socket))),
                         core::TaskGroup::Kind::Background);
        }
    }

    core::OpsResponse answer(const http::request<http::empty_body>& request) {
        if (request.method() != http::verb::get && request.method() != http::verb::head) {
            return plain(405, "only GET and HEAD\n");
        }
        std::string_view target = request.target();
        target = target.substr(0, target.find('?'));
        if (auto response = endpoints_.get(target)) {
            return std::move(*response);
        }
        return plain(404, "not found: try /healthz, /readyz or /metrics\n");
    }

    static http::response<http::string_body> to_http(core::OpsResponse r,
                                                     unsigned version,
                                                     bool head) {
        http::response<http::string_body> response{static_cast<http::status>(r.status), version};
        response.set(http::field::server, "rollbot/" ROLLBOT_VERSION);
        response.set(http::field::content_type, r.content_type);
        response.set(http::field::cache_control, "no-store");
        if (r.status == 405) {
            response.set(http::field::allow, "GET, HEAD");
        }
        if (head) {
            response.content_length(r.body.size());
        } else {
            response.body() = std::move(r.body);
            response.prepare_payload();
        }
        return response;
    }

    asio::awaitable<void> session(Self self, std::uint64_t id, beast::tcp_stream stream) {
        (void)self;
        sessions_[id] = &stream.socket();
        beast::flat_buffer buffer;
        for (;;) {
            http::request_parser<http::empty_body> parser;
            parser.header_limit(static_cast<std::uint32_t>(options_.max_header_bytes));
            stream.expires_after(options_.request_timeout);
            auto [ec, n] = co_await http::async_read(stream, buffer, parser, kNothrow);
            if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
                ec == asio::error::operation_aborted || stopped_) {
                break;
            }
            http::response<http::string_body> response;
            bool keep_alive = false;
            if (ec) {
                // Unparsable, too large, or a body on a GET: say so once and close.
                response = to_http(plain(400, "bad request: " + ec.message() + "\n"), 11, false);
            } else {
                const auto& request = parser.get();
                keep_alive = request.keep_alive();
                response = to_http(
                    answer(request), request.version(), request.method() == http::verb::head);
            }
            response.keep_alive(keep_alive);
            stream.expires_after(options_.request_timeout);
            auto [wec, written] = co_await http::async_write(stream, response, kNothrow);
            if (wec || !keep_alive) {
                break;
            }
        }
        boost::system::error_code ignored;
        stream.socket().shutdown(Tcp::socket::shutdown_send, ignored);
        stream.socket().close(ignored);
        sessions_.erase(id);
    }

    core::TaskGroup& tasks_;
    asio::any_io_executor executor_;
    core::OpsEndpoints& endpoints_;
    std::shared_ptr<spdlog::logger> log_;
    OpsServerOptions options_;
    Tcp::acceptor acceptor_;
    std::uint16_t port_ = 0;
    bool stopped_ = false;
    std::uint64_t next_id_ = 0;
    std::map<std::uint64_t, Tcp::socket*> sessions_;  // open connections, closed by stop()
};

}  // namespace

core::Result<std::shared_ptr<OpsServer>> start_ops_server(core::TaskGroup& tasks,
                                                          const std::string& host,
                                                          std::uint16_t port,
                                                          core::OpsEndpoints& endpoints,
                                                          std::shared_ptr<spdlog::logger> log,
                                                          OpsServerOptions options) {
    auto server = std::make_shared<Server>(tasks, endpoints, std::move(log), options);
    if (auto bound = server->bind(host, port); !bound) {
        return bound.error();
    }
    server->start();
    return std::shared_ptr<OpsServer>(server);
}

}  // namespace rollbot::ops
