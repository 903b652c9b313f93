// The only translation unit of the daemon that includes Beast websocket and OpenSSL.
#include "adapters/slack/socket_connection.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <fmt/format.h>
#include <openssl/ssl.h>

#include <deque>

namespace rollbot::slack {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using Tcp = asio::ip::tcp;
constexpr auto kNothrow = asio::as_tuple(asio::use_awaitable);

using PlainWs = websocket::stream<beast::tcp_stream>;
using TlsWs = websocket::stream<ssl::stream<beast::tcp_stream>>;

bool is_ip_literal(const std::string& host) {
    boost::system::error_code ec;
    (void)asio::ip::make_address(host, ec);
    return !ec;
}

template <class Ws>
class BeastConnection final : public SocketConnection,
                              public std::enable_shared_from_this<BeastConnection<Ws>> {
public:
    BeastConnection(core::TaskGroup& tasks,
                    std::uint64_t id,
                    ConnectionOptions options,
                    ConnectionHandlers handlers,
                    std::shared_ptr<spdlog::logger> log)
        : tasks_(tasks),
          executor_(tasks.executor()),
          id_(id),
          options_(std::move(options)),
          handlers_(std::move(handlers)),
          log_(std::move(log)),
          wake_(executor_) {}

    void start(core::Secret url) override {
        auto parsed = parse_websocket_url(url.reveal());
        if (!parsed) {
            finish(CloseCause::ConnectError, parsed.error().message);
            return;
        }
        if (parsed->tls != std::is_same_v<Ws, TlsWs>) {
            finish(CloseCause::ConnectError,
                   "slack.ws.connect: scheme does not match the connection kind");
            return;
        }
        auto self = this->shared_from_this();
        tasks_.spawn(
            "slack.ws", run(self, *parsed), core::TaskGroup::Kind::Background, [self](auto) {
                self->finish(CloseCause::ConnectError, "slack.ws: internal error");
            });
    }

    void send(std::string text, std::function<void()> written) override {
        if (closed_) {
            return;
        }
        queue_.push_back(Frame{std::move(text), std::move(written)});
        wake_.cancel();
    }

    void close() override {
        close_requested_ = true;
        wake_.cancel();
    }

    void abort() override {
        aborted_ = true;
        if (ws_) {
            beast::error_code ignored;
            beast::get_lowest_layer(*ws_).socket().close(ignored);
        }
        wake_.cancel();
    }

    [[nodiscard]] std::uint64_t id() const override { return id_; }

private:
    using Self = std::shared_ptr<BeastConnection>;

    // The TLS context: system trust plus `ca_file`; peer verification is never off.
    std::string make_stream() {
        if constexpr (std::is_same_v<Ws, TlsWs>) {
            tls_ = std::make_shared<ssl::context>(ssl::context::tls_client);
            beast::error_code ec;
            tls_->set_default_verify_paths(ec);
            if (!ec && !options_.ca_file.empty()) {
                tls_->load_verify_file(options_.ca_file, ec);
            }
            if (ec) {
                return fmt::format(
                    "slack.ws.tls: CA bundle {}: {}", options_.ca_file, ec.message());
            }
            tls_->set_verify_mode(ssl::verify_peer);
            ws_.emplace(executor_, *tls_);
        } else {
            ws_.emplace(executor_);
        }
        return {};
    }

    // Resolve, connect, TLS, upgrade: each phase has a deadline. Returns an error or "".
    asio::awaitable<std::string> connect(Self self, WebSocketUrl url) {
        (void)self;
        Tcp::resolver resolver{executor_};
        auto [rec, endpoints] = co_await resolver.async_resolve(url.host, url.port, kNothrow);
        if (rec) {
            co_return fmt::format("slack.ws.resolve {}: {}", url.host, rec.message());
        }
        auto& tcp_layer = beast::get_lowest_layer(*ws_);
        tcp_layer.expires_after(options_.connect_timeout);
        auto [cec, endpoint] = co_await tcp_layer.async_connect(endpoints, kNothrow);
        if (cec || aborted_) {
            co_return fmt::format("slack.ws.connect {}: {}", url.host, cec.message());
        }
        if constexpr (std::is_same_v<Ws, TlsWs>) {
            auto& tls = ws_->next_layer();
            if (!is_ip_literal(url.host)) {
                // SNI: Slack's edge serves several names from one address.
                SSL_set_tlsext_host_name(tls.native_handle(), url.host.c_str());
            }
            tls.set_verify_callback(ssl::host_name_verification(url.host));
            auto [hec] = co_await tls.async_handshake(ssl::stream_base::client, kNothrow);
            if (hec) {
                co_return fmt::format("slack.ws.tls {}: {}", url.host, hec.message());
            }
        }
        ws_->set_option(websocket::stream_base::decorator([](websocket::request_type& req) {
            req.set(beast::http::field::user_agent, "rollbot/" ROLLBOT_VERSION);
        }));
        const bool default_port = url.port == (url.tls ? "443" : "80");
        const std::string host = default_port ? url.host : url.host + ":" + url.port;
        auto [wec] = co_await ws_->async_handshake(host, url.target, kNothrow);
        if (wec || aborted_) {
            co_return fmt::format("slack.ws.upgrade {}: {}", url.host, wec.message());
        }
        tcp_layer.expires_never();
        // Beast pings after half the idle time without data and fails the read when the whole
        // idle time passes with nothing received (pongs count): a dead link cannot linger.
        ws_->set_option(websocket::stream_base::timeout{
            options_.close_timeout, options_.liveness_timeout, true});
        ws_->read_message_max(options_.max_message_bytes);
        co_return std::string{};
    }

    asio::awaitable<void> run(Self self, WebSocketUrl url) {
        std::string why = make_stream();
        if (why.empty()) {
            why = co_await connect(self, url);
        }
        if (!why.empty()) {
            finish(CloseCause::ConnectError, std::move(why));
            co_return;
        }
        handlers_.on_open(id_);
        tasks_.spawn(
            "slack.ws.write", write_loop(self), core::TaskGroup::Kind::Background, [self](auto) {
                self->finish(CloseCause::WriteError, "slack.ws.write: internal error");
            });
        beast::flat_buffer buffer;
        CloseCause cause = CloseCause::Closed;
        why = "closed";
        while (!closed_) {
            auto [ec, bytes] = co_await ws_->async_read(buffer, kNothrow);
            if (ec == websocket::error::closed) {
                cause = CloseCause::ClosedBySlack;
                why = fmt::format("closed by Slack (code {})", ws_->reason().code);
                break;
            }
            if (ec) {
                cause = CloseCause::ReadError;
                why = fmt::format("slack.ws.read: {}", ec.message());
                break;
            }
            if (ws_->got_text()) {
                const auto data = buffer.cdata();
                handlers_.on_text(
                    id_, std::string_view(static_cast<const char*>(data.data()), data.size()));
            } else {
                handlers_.on_binary(id_, bytes);
            }
            buffer.consume(buffer.size());
        }
        finish(cause, std::move(why));
    }

    // One write in flight: acks, then a close frame when asked.
    asio::awaitable<void> write_loop(Self self) {
        (void)self;
        while (!closed_) {
            if (!queue_.empty()) {
                Frame frame = std::move(queue_.front());
                queue_.pop_front();
                ws_->text(true);
                auto [ec, n] = co_await ws_->async_write(asio::buffer(frame.text), kNothrow);
                if (ec) {
                    log_->warn("slack.ws.write failed connection={} error={}", id_, ec.message());
                    abort();
                    co_return;
                }
                if (frame.written) {
                    frame.written();
                }
                continue;
            }
            if (close_requested_ && !close_sent_) {
                close_sent_ = true;
                auto [ec] = co_await ws_->async_close(websocket::close_code::normal, kNothrow);
                if (ec) {
                    abort();
                }
                continue;
            }
            wake_.expires_at(asio::steady_timer::time_point::max());
            co_await wake_.async_wait(kNothrow);
        }
    }

    void finish(CloseCause cause, std::string why) {
        if (closed_) {
            return;
        }
        closed_ = true;
        wake_.cancel();
        if (ws_) {
            beast::error_code ignored;
            beast::get_lowest_layer(*ws_).socket().close(ignored);
        }
        handlers_.on_closed(id_, cause, std::move(why));
    }

    core::TaskGroup& tasks_;
    asio::any_io_executor executor_;
    std::uint64_t id_;
    ConnectionOptions options_;
    ConnectionHandlers handlers_;
    std::shared_ptr<spdlog::logger> log_;
    std::shared_ptr<ssl::context> tls_;
    std::optional<Ws> ws_;
    struct Frame {
        std::string text;
        std::function<void()> written;
    };
    std::deque<Frame> queue_;
    asio::steady_timer wake_;
    bool close_requested_ = false;
    bool close_sent_ = false;
    bool aborted_ = false;
    bool closed_ = false;
};

}  // namespace

bool is_loopback_host(std::string_view host) {
    if (host == "localhost" || host == "::1" || host == "[::1]") {
        return true;
    }
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(std::string(host), ec);
    return !ec && address.is_loopback();
}

core::Result<WebSocketUrl> parse_websocket_url(std::string_view url) {
    WebSocketUrl out;
    std::string_view rest;
    if (url.starts_with("wss://")) {
        rest = url.substr(6);
    } else if (url.starts_with("ws://")) {
        out.tls = false;
        rest = url.substr(5);
    } else {
        return core::Error{core::ErrorKind::Invalid, "slack.ws: the URL is not ws:// or wss://"};
    }
    const auto slash = rest.find('/');
    const std::string_view authority = rest.substr(0, slash);
    out.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
    std::string_view host = authority;
    if (authority.starts_with('[')) {  // [::1]:port
        const auto close = authority.find(']');
        host = authority.substr(1, close == std::string_view::npos ? 0 : close - 1);
        const auto port =
            close == std::string_view::npos ? std::string_view{} : authority.substr(close + 1);
        out.port = port.starts_with(':') ? std::string(port.substr(1)) : std::string{};
    } else if (const auto colon = authority.rfind(':'); colon != std::string_view::npos) {
        host = authority.substr(0, colon);
        out.port = std::string(authority.substr(colon + 1));
    }
    out.host = std::string(host);
    if (out.port.empty()) {
        out.port = out.tls ? "443" : "80";
    }
    if (out.host.empty() || out.port.find_first_not_of("0123456789") != std::string::npos) {
        return core::Error{core::ErrorKind::Invalid, "slack.ws: malformed URL"};
    }
    if (!out.tls && !is_loopback_host(out.host)) {
        return core::Error{
            core::ErrorKind::Invalid,
            fmt::format("slack.ws: plain ws:// is refused for {} (loopback only)", out.host)};
    }
    return out;
}

std::shared_ptr<SocketConnection> make_socket_connection(core::TaskGroup& tasks,
                                                         std::uint64_t id,
                                                         ConnectionOptions options,
                                                         ConnectionHandlers handlers,
                                                         std::shared_ptr<spdlog::logger> log,
                                                         bool tls) {
    if (tls) {
        return std::make_shared<BeastConnection<TlsWs>>(
            tasks, id, std::move(options), std::move(handlers), std::move(log));
    }
    return std::make_shared<BeastConnection<PlainWs>>(
        tasks, id, std::move(options), std::move(handlers), std::move(log));
}

}  // namespace rollbot::slack
