#include "test/support/fake_http_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <tuple>
#include <utility>

namespace rollbot::test {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr auto kNothrow = asio::as_tuple(asio::use_awaitable);
// A client that goes quiet mid-request for this long is dropped (it never happens in a test
// that passes; it keeps a broken one from hanging on its way out).
constexpr std::chrono::seconds kIdleTimeout{30};
// Beast's default request body limit is 1 MB; tests of upload paths may want more.
constexpr std::uint64_t kMaxRequestBody = 64U * 1024 * 1024;

using BeastRequest = http::request<http::string_body>;
using BeastResponse = http::response<http::string_body>;

/// What the test thread and the server thread share.
class Recorder {
public:
    void set_handler(FakeHandler handler) {
        const std::lock_guard lock(mutex_);
        handler_ = std::move(handler);
    }

    /// Server thread: stores the request, wakes waiters, then asks the handler (unlocked).
    FakeResponse record(const FakeRequest& request) {
        FakeHandler handler;
        {
            const std::lock_guard lock(mutex_);
            requests_.push_back(request);
            handler = handler_;
        }
        arrived_.notify_all();
        return handler ? handler(request) : FakeResponse{};
    }

    std::vector<FakeRequest> requests() const {
        const std::lock_guard lock(mutex_);
        return requests_;
    }

    testing::AssertionResult wait_for(std::size_t n, std::chrono::milliseconds timeout) const {
        std::unique_lock lock(mutex_);
        if (arrived_.wait_for(lock, timeout, [&] { return requests_.size() >= n; })) {
            return testing::AssertionSuccess();
        }
        auto failure = testing::AssertionFailure()
                       << "FakeHttpServer: expected at least " << n << " request(s) within "
                       << timeout.count() << " ms, received " << requests_.size();
        for (const auto& request : requests_) {
            failure << "\n  " << request.method << " " << request.target;
        }
        return failure;
    }

private:
    mutable std::mutex mutex_;
    mutable std::condition_variable arrived_;
    std::vector<FakeRequest> requests_;
    FakeHandler handler_;
};

/// Completion of every server coroutine: an exception here is a broken test, so say so.
void report_crash(std::exception_ptr error) {
    if (!error) {
        return;
    }
    try {
        std::rethrow_exception(error);
    } catch (const std::exception& e) {
        ADD_FAILURE() << "FakeHttpServer: " << e.what();
    }
}

FakeRequest to_fake(const BeastRequest& request) {
    FakeRequest out;
    out.method = std::string(request.method_string());
    out.target = std::string(request.target());
    for (const auto& field : request) {
        std::string name(field.name_string());
        std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) {
            return static_cast<char>(std::tolower(c));
        });
        out.headers.emplace_back(std::move(name), std::string(field.value()));
    }
    out.body = request.body();
    return out;
}

BeastResponse to_beast(const FakeResponse& answer, const BeastRequest& request) {
    BeastResponse response;
    response.version(request.version());
    response.result(static_cast<unsigned>(answer.status));
    for (const auto& [name, value] : answer.headers) {
        response.insert(name, value);
    }
    if (response.find(http::field::connection) == response.end()) {
        response.keep_alive(request.keep_alive());
    }
    response.body() = answer.body;
    if (!response.chunked()) {
        response.prepare_payload();
    }
    return response;
}

/// One connection: read a request, record it, answer (after its delay), until either side
/// closes. Each connection has its own timer, so a delayed answer holds up nobody else.
asio::awaitable<void> serve_connection(Recorder* recorder,
                                       tcp::socket socket,
                                       std::size_t connection) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    for (;;) {
        http::request_parser<http::string_body> parser;
        parser.body_limit(kMaxRequestBody);
        stream.expires_after(kIdleTimeout);
        const auto read = co_await http::async_read(stream, buffer, parser, kNothrow);
        if (std::get<0>(read)) {
            break;  // the client closed (or sent something that is not HTTP)
        }
        const BeastRequest& request = parser.get();
        FakeRequest received = to_fake(request);
        received.connection = connection;
        const FakeResponse answer = recorder->record(std::move(received));
        if (answer.delay.count() > 0) {
            asio::steady_timer timer(stream.get_executor(), answer.delay);
            const auto waited = co_await timer.async_wait(kNothrow);
            (void)waited;
        }
        if (answer.close_without_response) {
            break;
        }
        BeastResponse response = to_beast(answer, request);
        stream.expires_after(kIdleTimeout);
        const auto written = co_await http::async_write(stream, response, kNothrow);
        if (std::get<0>(written) || !response.keep_alive()) {
            break;
        }
    }
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream.socket().close(ignored);
}

asio::awaitable<void> accept_connections(Recorder* recorder, tcp::acceptor* acceptor) {
    std::size_t accepted_count = 0;
    for (;;) {
        auto accepted = co_await acceptor->async_accept(kNothrow);
        const auto error = std::get<0>(accepted);
        if (error == asio::error::connection_aborted) {
            continue;
        }
        if (error) {
            ADD_FAILURE() << "FakeHttpServer: accept: " << error.message();
            co_return;
        }
        ++accepted_count;
        asio::co_spawn(acceptor->get_executor(),
                       serve_connection(recorder, std::move(std::get<1>(accepted)), accepted_count),
                       report_crash);
    }
}

}  // namespace

const std::string* FakeRequest::header(std::string_view lower_name) const {
    for (const auto& [name, value] : headers) {
        if (name == lower_name) {
            return &value;
        }
    }
    return nullptr;
}

// Declaration order is destruction order in reverse: the io_context (and with it every
// connection coroutine) goes before the recorder those coroutines point to.
struct FakeHttpServer::State {
    Recorder recorder;
    asio::io_context io{1};
    tcp::acceptor acceptor{io};
    std::uint16_t port = 0;
    std::thread thread;
};

FakeHttpServer::FakeHttpServer(FakeHandler handler) : state_(std::make_unique<State>()) {
    state_->recorder.set_handler(std::move(handler));
    const tcp::endpoint endpoint(asio::ip::address_v4::loopback(), 0);
    auto& acceptor = state_->acceptor;
    acceptor.open(endpoint.protocol());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    acceptor.bind(endpoint);
    acceptor.listen();
    state_->port = acceptor.local_endpoint().port();
    asio::co_spawn(state_->io, accept_connections(&state_->recorder, &acceptor), report_crash);
    state_->thread = std::thread([io = &state_->io] { io->run(); });
}

FakeHttpServer::~FakeHttpServer() {
    // Stopping (rather than closing each socket) is enough: the io_context's destructor
    // destroys the suspended connection coroutines, and with them their sockets and timers.
    state_->io.stop();
    state_->thread.join();
}

void FakeHttpServer::set_handler(FakeHandler handler) {
    state_->recorder.set_handler(std::move(handler));
}

std::uint16_t FakeHttpServer::port() const {
    return state_->port;
}

std::string FakeHttpServer::base_url() const {
    return "http://127.0.0.1:" + std::to_string(state_->port);
}

std::string FakeHttpServer::url(std::string_view target) const {
    return base_url() + std::string(target);
}

std::vector<FakeRequest> FakeHttpServer::requests() const {
    return state_->recorder.requests();
}

testing::AssertionResult FakeHttpServer::wait_for_requests(
    std::size_t n, std::chrono::milliseconds timeout) const {
    return state_->recorder.wait_for(n, timeout);
}

}  // namespace rollbot::test
