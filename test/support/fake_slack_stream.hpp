#pragma once
// Internal to FakeSlackServer and its self-test (both Beast translation units): one stream type
// for plain TCP and TLS.

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket/teardown.hpp>

#include <memory>
#include <optional>
#include <utility>
#include <vector>

namespace rollbot::test::fake_slack {

using TlsStream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

/// A TCP or TLS connection behind one type, so that Beast's HTTP and websocket templates are
/// compiled once rather than once per stream type (that halves the build time of a file using
/// both). Handlers are type-erased at this boundary: one allocation per read or write.
class FlexStream {
public:
    using executor_type = boost::beast::tcp_stream::executor_type;
    using IoHandler =
        boost::asio::any_completion_handler<void(boost::beast::error_code, std::size_t)>;
    using TeardownHandler = boost::asio::any_completion_handler<void(boost::beast::error_code)>;

    explicit FlexStream(boost::beast::tcp_stream plain) : plain_(std::move(plain)) {}
    explicit FlexStream(TlsStream tls) : tls_(std::make_unique<TlsStream>(std::move(tls))) {}

    executor_type get_executor() { return next_layer().get_executor(); }
    boost::beast::tcp_stream& next_layer() {
        return tls_ ? boost::beast::get_lowest_layer(*tls_) : *plain_;
    }

    template <class Buffers, class Token>
    auto async_read_some(const Buffers& buffers, Token&& token) {
        return boost::asio::async_initiate<Token, void(boost::beast::error_code, std::size_t)>(
            [this](auto handler, std::vector<boost::asio::mutable_buffer> pieces) {
                read_some(std::move(pieces), IoHandler(std::move(handler)));
            },
            token,
            std::vector<boost::asio::mutable_buffer>(boost::asio::buffer_sequence_begin(buffers),
                                                     boost::asio::buffer_sequence_end(buffers)));
    }

    template <class Buffers, class Token>
    auto async_write_some(const Buffers& buffers, Token&& token) {
        return boost::asio::async_initiate<Token, void(boost::beast::error_code, std::size_t)>(
            [this](auto handler, std::vector<boost::asio::const_buffer> pieces) {
                write_some(std::move(pieces), IoHandler(std::move(handler)));
            },
            token,
            std::vector<boost::asio::const_buffer>(boost::asio::buffer_sequence_begin(buffers),
                                                   boost::asio::buffer_sequence_end(buffers)));
    }

    void read_some(std::vector<boost::asio::mutable_buffer> pieces, IoHandler handler) {
        if (tls_) {
            tls_->async_read_some(pieces, bind(std::move(handler)));
        } else {
            plain_->async_read_some(pieces, bind(std::move(handler)));
        }
    }

    void write_some(std::vector<boost::asio::const_buffer> pieces, IoHandler handler) {
        if (tls_) {
            tls_->async_write_some(pieces, bind(std::move(handler)));
        } else {
            plain_->async_write_some(pieces, bind(std::move(handler)));
        }
    }

    /// The websocket close handshake's last step (TLS close_notify, then TCP shutdown).
    void teardown(boost::beast::role_type role, TeardownHandler handler) {
        using boost::beast::async_teardown;
        if (tls_) {
            async_teardown(role, *tls_, bind(std::move(handler)));
        } else {
            async_teardown(role, *plain_, bind(std::move(handler)));
        }
    }

private:
    // Beast posts some completions with blocking.never, which the erased handler's executor
    // type (any_completion_executor) does not offer in Boost 1.81: run them on the stream's.
    template <class Handler>
    boost::asio::executor_binder<Handler, executor_type> bind(Handler handler) {
        return boost::asio::bind_executor(get_executor(), std::move(handler));
    }

    std::optional<boost::beast::tcp_stream> plain_;
    std::unique_ptr<TlsStream> tls_;
};

/// Found by Beast's websocket::stream<FlexStream> through argument-dependent lookup.
template <class Handler>
void async_teardown(boost::beast::role_type role, FlexStream& stream, Handler&& handler) {
    stream.teardown(role, FlexStream::TeardownHandler(std::forward<Handler>(handler)));
}

}  // namespace rollbot::test::fake_slack
