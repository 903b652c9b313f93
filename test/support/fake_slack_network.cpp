// FakeSlackServer's network side: one io_context thread serving HTTP (Web API, response_url)
// and Socket Mode websockets, plain or TLS. The fake's only Beast/SSL translation unit; what
// Slack answers lives in fake_slack_web_api.cpp / fake_slack_methods.cpp, the records in
// fake_slack_workspace.cpp.
#include "test/support/fake_slack_stream.hpp"
#include "test/support/fake_slack_workspace.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <deque>
#include <exception>
#include <future>
#include <map>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

namespace rollbot::test::fake_slack {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

constexpr auto kNothrow = asio::as_tuple(asio::use_awaitable);
// Bounds for clients that stall mid-handshake or mid-request; a passing test never hits them.
constexpr std::chrono::seconds kHandshakeTimeout{10};
constexpr std::chrono::seconds kIdleTimeout{30};
// How long a test thread waits for the server thread to carry out drop/close/stop_reading.
constexpr std::chrono::seconds kScriptTimeout{10};
constexpr std::uint64_t kMaxRequestBody = 16U * 1024 * 1024;
constexpr std::size_t kMaxFrame = 16U * 1024 * 1024;

void report_crash(std::exception_ptr error) {
    if (!error) {
        return;
    }
    try {
        std::rethrow_exception(error);
    } catch (const std::exception& e) {
        ADD_FAILURE() << "FakeSlackServer: server coroutine: " << e.what();
    }
}

}  // namespace

/// One accepted websocket. Server thread only; the coroutines serving it share ownership.
class Link {
public:
    Link(std::size_t number, FlexStream stream)
        : number_(number), wake_(stream.get_executor()), ws_(std::move(stream)) {}

    /// Closes TCP now: no close frame, no TLS close_notify.
    void abort(FakeSlackDrop how) {
        auto& socket = beast::get_lowest_layer(ws_).socket();
        beast::error_code ignored;
        if (how == FakeSlackDrop::Reset) {
            socket.set_option(asio::socket_base::linger(true, 0), ignored);
        }
        socket.close(ignored);
    }

    /// Aborts pending reads and writes (the stream is unusable for websocket I/O afterwards).
    void cancel_io() {
        beast::error_code ignored;
        beast::get_lowest_layer(ws_).socket().cancel(ignored);
    }

    void push(Outgoing item) {
        queue_.push_back(std::move(item));
        wake_.cancel();
    }

    std::size_t number_;
    std::deque<Outgoing> queue_;
    asio::steady_timer wake_;  // the writer parks on it while there is nothing to write
    bool ended_ = false;       // no longer live
    bool reading_ = true;
    websocket::stream<FlexStream> ws_;
};

class SocketNetwork final : public Network {
public:
    SocketNetwork(Workspace& workspace, bool tls);
    ~SocketNetwork() override;
    SocketNetwork(const SocketNetwork&) = delete;
    SocketNetwork& operator=(const SocketNetwork&) = delete;

    [[nodiscard]] std::uint16_t port() const override { return port_; }
    void send(std::size_t connection, Outgoing item) override;
    bool send_and_wait(std::size_t connection, Outgoing item) override;
    bool stop_reading(std::size_t connection) override;

    [[nodiscard]] std::shared_ptr<Link> pick(std::size_t connection) const;
    void end(Link& link, FakeSlackClosedBy by, bool close_frame = false, std::uint16_t code = 0);
    void finish_now(Link& link, Outgoing& item);

    Workspace& workspace_;
    std::optional<ssl::context> tls_;  // outlives the io_context and every stream in it
    asio::io_context io_{1};
    tcp::acceptor acceptor_{io_};
    std::uint16_t port_ = 0;
    std::map<std::size_t, std::shared_ptr<Link>> links_;  // live connections by number
    std::thread thread_;
};

namespace {

core::Headers lowered_headers(const http::request<http::string_body>& request) {
    core::Headers headers;
    for (const auto& field : request) {
        std::string name(field.name_string());
        std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) {
            return static_cast<char>(std::tolower(c));
        });
        headers.emplace_back(std::move(name), std::string(field.value()));
    }
    return headers;
}

HttpIn to_in(const http::request<http::string_body>& request) {
    return HttpIn{std::string(request.method_string()),
                  std::string(request.target()),
                  lowered_headers(request),
                  request.body()};
}

asio::awaitable<void> write_loop(SocketNetwork* network, std::shared_ptr<Link> link) {
    auto& ws = link->ws_;
    while (!link->ended_) {
        if (link->queue_.empty() || !link->reading_) {
            link->wake_.expires_at(asio::steady_timer::time_point::max());
            const auto woken = co_await link->wake_.async_wait(kNothrow);
            (void)woken;
            continue;
        }
        Outgoing item = std::move(link->queue_.front());
        link->queue_.pop_front();
        beast::error_code error;
        switch (item.kind) {
            case Outgoing::Kind::Text:
            case Outgoing::Kind::Binary: {
                if (!item.envelope_id.empty()) {
                    network->workspace_.envelope_written(item.envelope_id, link->number_);
                }
                ws.binary(item.kind == Outgoing::Kind::Binary);
                std::tie(error, std::ignore) =
                    co_await ws.async_write(asio::buffer(item.data), kNothrow);
                break;
            }
            case Outgoing::Kind::Ping: {
                const websocket::ping_data payload(
                    item.data.substr(0, websocket::ping_data::static_capacity));
                std::tie(error) = co_await ws.async_ping(payload, kNothrow);
                break;
            }
            case Outgoing::Kind::Close: {
                network->end(*link, FakeSlackClosedBy::ServerClose);
                item.done->set_value(true);
                std::tie(error) =
                    co_await ws.async_close(websocket::close_reason(item.code), kNothrow);
                co_return;  // the reader sees the handshake end
            }
            case Outgoing::Kind::Drop:
                network->finish_now(*link, item);
                co_return;
        }
        if (error) {
            co_return;  // the reader sees the broken connection too
        }
    }
}

/// After stop_reading(): swallow whatever the client sends (pings included, unanswered) until
/// it gives up and closes TCP.
asio::awaitable<void> drain(std::shared_ptr<Link> link) {
    auto& tcp_stream = beast::get_lowest_layer(link->ws_);
    std::array<char, 4096> sink{};
    for (;;) {
        const auto [error, n] =
            co_await tcp_stream.socket().async_read_some(asio::buffer(sink), kNothrow);
        (void)n;
        if (error) {
            co_return;
        }
    }
}

asio::awaitable<void> read_loop(SocketNetwork* network, std::shared_ptr<Link> link) {
    auto& ws = link->ws_;
    beast::flat_buffer buffer;
    while (link->reading_) {
        const auto [error, n] = co_await ws.async_read(buffer, kNothrow);
        (void)n;
        if (error && !link->reading_) {
            break;
        }
        if (error) {
            const bool close_frame = error == websocket::error::closed;
            network->end(*link,
                         FakeSlackClosedBy::Client,
                         close_frame,
                         close_frame ? static_cast<std::uint16_t>(ws.reason().code) : 0);
            co_return;
        }
        network->workspace_.frame_received(
            link->number_, beast::buffers_to_string(buffer.data()), !ws.got_text());
        buffer.consume(buffer.size());
    }
    if (!link->ended_) {
        co_await drain(link);
        network->end(*link, FakeSlackClosedBy::Client);
    }
}

asio::awaitable<void> ping_loop(std::shared_ptr<Link> link, std::chrono::milliseconds interval) {
    asio::steady_timer timer(link->wake_.get_executor());
    for (;;) {
        timer.expires_after(interval);
        const auto waited = co_await timer.async_wait(kNothrow);
        (void)waited;
        if (link->ended_) {
            co_return;
        }
        // Slack's own server pings carry "Ping from applink-<host>".
        link->push(Outgoing{Outgoing::Kind::Ping, "Ping from applink-fake"});
    }
}

asio::awaitable<void> serve_websocket(SocketNetwork* network,
                                      FlexStream stream,
                                      http::request<http::string_body> request) {
    auto link = std::make_shared<Link>(0, std::move(stream));
    auto& ws = link->ws_;
    websocket::stream_base::timeout timeouts{};
    timeouts.handshake_timeout = kHandshakeTimeout;  // also bounds the close handshake
    timeouts.idle_timeout = websocket::stream_base::none();
    timeouts.keep_alive_pings = false;  // server pings are scripted (ping_interval, send_ping)
    ws.set_option(timeouts);
    ws.read_message_max(kMaxFrame);
    ws.set_option(websocket::stream_base::decorator([](websocket::response_type& response) {
        response.set(http::field::server, "fake-slack");
    }));
    const auto [accept_error] = co_await ws.async_accept(request, kNothrow);
    if (accept_error) {
        co_return;
    }
    auto [number, hello] = network->workspace_.connection_opened();
    link->number_ = number;
    ws.control_callback([workspace = &network->workspace_, number = number](
                            websocket::frame_type kind, beast::string_view) {
        if (kind != websocket::frame_type::close) {
            workspace->control_received(number, kind == websocket::frame_type::pong);
        }
    });
    network->links_[number] = link;
    const auto& options = network->workspace_.options();
    if (options.send_hello) {
        link->push(Outgoing{Outgoing::Kind::Text, std::move(hello)});
    }
    if (network->workspace_.records().live_connections() > options.max_connections) {
        link->push(Outgoing{Outgoing::Kind::Text,
                            network->workspace_.disconnect_frame("too_many_websockets")});
    }
    const auto executor = co_await asio::this_coro::executor;
    asio::co_spawn(executor, write_loop(network, link), report_crash);
    if (options.ping_interval.count() > 0) {
        asio::co_spawn(executor, ping_loop(link, options.ping_interval), report_crash);
    }
    co_await read_loop(network, link);
}

asio::awaitable<void> reject_upgrade(FlexStream stream, http::request<http::string_body> request) {
    http::response<http::string_body> response{http::status::unauthorized, request.version()};
    response.set(http::field::content_type, "application/json; charset=utf-8");
    response.body() = R"({"ok":false,"error":"invalid_ticket"})";
    response.keep_alive(false);
    response.prepare_payload();
    beast::get_lowest_layer(stream).expires_after(kIdleTimeout);
    const auto written = co_await http::async_write(stream, response, kNothrow);
    (void)written;
    beast::error_code ignored;
    beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_send, ignored);
}

/// Keep-alive HTTP until the client closes, or until it upgrades to a websocket.
asio::awaitable<void> serve_http(SocketNetwork* network, FlexStream stream) {
    beast::flat_buffer buffer;
    for (;;) {
        http::request_parser<http::string_body> parser;
        parser.body_limit(kMaxRequestBody);
        beast::get_lowest_layer(stream).expires_after(kIdleTimeout);
        const auto [header_error, header_bytes] =
            co_await http::async_read_header(stream, buffer, parser, kNothrow);
        (void)header_bytes;
        if (header_error) {
            break;
        }
        if (beast::iequals(parser.get()[http::field::expect], "100-continue")) {
            // libcurl waits up to 1 s for this before sending a body over 1 KB (unless told not).
            http::response<http::empty_body> proceed{http::status::continue_, 11};
            const auto [continue_error, n] = co_await http::async_write(stream, proceed, kNothrow);
            (void)n;
            if (continue_error) {
                break;
            }
        }
        if (!parser.is_done()) {
            const auto [body_error, body_bytes] =
                co_await http::async_read(stream, buffer, parser, kNothrow);
            (void)body_bytes;
            if (body_error) {
                break;
            }
        }
        auto request = parser.release();
        if (websocket::is_upgrade(request)) {
            beast::get_lowest_layer(stream).expires_never();
            if (network->workspace_.connect_attempt(to_in(request))) {
                co_await serve_websocket(network, std::move(stream), std::move(request));
            } else {
                co_await reject_upgrade(std::move(stream), std::move(request));
            }
            co_return;
        }
        const HttpOut out = network->workspace_.handle_http(to_in(request));
        if (out.delay.count() > 0) {
            asio::steady_timer timer(stream.get_executor(), out.delay);
            const auto waited = co_await timer.async_wait(kNothrow);
            (void)waited;
        }
        http::response<http::string_body> response{static_cast<http::status>(out.status),
                                                   request.version()};
        response.set(http::field::server, "fake-slack");
        response.set(http::field::content_type, out.content_type);
        for (const auto& [name, value] : out.headers) {
            response.set(name, value);
        }
        response.keep_alive(request.keep_alive());
        response.body() = out.body;
        response.prepare_payload();
        beast::get_lowest_layer(stream).expires_after(kIdleTimeout);
        const auto [write_error, n] = co_await http::async_write(stream, response, kNothrow);
        (void)n;
        if (write_error || !response.keep_alive()) {
            break;
        }
    }
    beast::error_code ignored;
    beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_send, ignored);
}

asio::awaitable<void> serve_tls(SocketNetwork* network, tcp::socket socket) {
    TlsStream stream(std::move(socket), *network->tls_);
    beast::get_lowest_layer(stream).expires_after(kHandshakeTimeout);
    const auto [error] = co_await stream.async_handshake(ssl::stream_base::server, kNothrow);
    if (error) {
        co_return;  // e.g. a client that does not trust the test CA
    }
    co_await serve_http(network, FlexStream(std::move(stream)));
}

asio::awaitable<void> accept_loop(SocketNetwork* network) {
    for (;;) {
        auto [error, socket] = co_await network->acceptor_.async_accept(kNothrow);
        if (error == asio::error::connection_aborted) {
            continue;
        }
        if (error) {
            ADD_FAILURE() << "FakeSlackServer: accept: " << error.message();
            co_return;
        }
        beast::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);  // acks and envelopes: small, timed
        if (network->tls_) {
            asio::co_spawn(network->io_, serve_tls(network, std::move(socket)), report_crash);
        } else {
            asio::co_spawn(network->io_,
                           serve_http(network, FlexStream(beast::tcp_stream(std::move(socket)))),
                           report_crash);
        }
    }
}

}  // namespace

SocketNetwork::SocketNetwork(Workspace& workspace, bool tls) : workspace_(workspace) {
    if (tls) {
        tls_.emplace(ssl::context::tls_server);
        tls_->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                          ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                          ssl::context::no_tlsv1_1);
        const std::string dir = ROLLBOT_TEST_DATA_DIR;
        tls_->use_certificate_chain_file(dir + "/server.pem");
        tls_->use_private_key_file(dir + "/server-key.pem", ssl::context::pem);
    }
    const tcp::endpoint endpoint(asio::ip::address_v4::loopback(), 0);
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    const std::string authority = "127.0.0.1:" + std::to_string(port_);
    workspace_.set_bases((tls ? "https://" : "http://") + authority,
                         (tls ? "wss://" : "ws://") + authority);
    asio::co_spawn(io_, accept_loop(this), report_crash);
    thread_ = std::thread([this] { io_.run(); });
}

SocketNetwork::~SocketNetwork() {
    // Stopping is enough: destroying the io_context destroys the suspended coroutines, and
    // with them (after links_ below lets go) every socket. Clients see the connections reset.
    io_.stop();
    thread_.join();
    links_.clear();
}

std::shared_ptr<Link> SocketNetwork::pick(std::size_t connection) const {
    if (links_.empty()) {
        return nullptr;
    }
    if (connection == FakeSlackServer::kLatest) {
        return links_.rbegin()->second;
    }
    const auto found = links_.find(connection);
    return found == links_.end() ? nullptr : found->second;
}

void SocketNetwork::end(Link& link, FakeSlackClosedBy by, bool close_frame, std::uint16_t code) {
    if (link.ended_) {
        return;
    }
    link.ended_ = true;
    links_.erase(link.number_);
    workspace_.connection_ended(link.number_, by, close_frame, code);
    link.wake_.cancel();
    // A close or drop still queued behind unwritten frames has nothing left to do.
    for (auto& item : link.queue_) {
        if (item.done) {
            item.done->set_value(true);
        }
    }
    link.queue_.clear();
}

void SocketNetwork::finish_now(Link& link, Outgoing& item) {
    // Drop, or a close on a connection that no longer writes: TCP goes now, without a frame.
    end(link,
        item.kind == Outgoing::Kind::Close ? FakeSlackClosedBy::ServerClose
                                           : FakeSlackClosedBy::ServerDrop);
    link.abort(item.drop);
    item.done->set_value(true);
}

void SocketNetwork::send(std::size_t connection, Outgoing item) {
    asio::post(io_, [this, connection, item = std::move(item)]() mutable {
        if (const auto link = pick(connection)) {
            link->push(std::move(item));
        }
    });
}

bool SocketNetwork::send_and_wait(std::size_t connection, Outgoing item) {
    item.done = std::make_shared<std::promise<bool>>();
    auto future = item.done->get_future();
    asio::post(io_, [this, connection, item = std::move(item)]() mutable {
        const auto link = pick(connection);
        if (!link) {
            item.done->set_value(false);
        } else if (!link->reading_) {
            finish_now(*link, item);
        } else {
            link->push(std::move(item));
        }
    });
    if (future.wait_for(kScriptTimeout) != std::future_status::ready) {
        ADD_FAILURE() << "FakeSlackServer: a close/drop did not happen within "
                      << kScriptTimeout.count() << " s (is a write to the client stuck?)";
        return true;
    }
    return future.get();
}

bool SocketNetwork::stop_reading(std::size_t connection) {
    std::promise<bool> done;
    auto future = done.get_future();
    asio::post(io_, [this, connection, &done] {
        const auto link = pick(connection);
        if (link && link->reading_) {
            link->reading_ = false;
            workspace_.connection_stopped_reading(link->number_);
            link->cancel_io();
        }
        done.set_value(link != nullptr);
    });
    return future.get();  // the server thread never blocks, so this comes promptly
}

std::unique_ptr<Network> Network::start(Workspace& workspace, bool tls) {
    return std::make_unique<SocketNetwork>(workspace, tls);
}

}  // namespace rollbot::test::fake_slack
