#pragma once

#include "bot/http.hpp"
#include "bot/ports/http_client.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>

namespace rollbot::actions {

/// libcurl's process-wide state. The first instance calls `curl_global_init` exactly once
/// (throws std::runtime_error if it fails); construct it before any thread uses libcurl.
/// `curl_global_cleanup` is left to process exit: it is not safe while another thread may
/// still be inside libcurl.
class CurlGlobal {
public:
    CurlGlobal();
};

struct CurlHttpClientOptions {
    std::size_t threads = 2;                        // blocking transfers run on this many threads
    std::size_t max_body_bytes = 8U * 1024 * 1024;  // larger responses are a Protocol error
    std::string ca_file{};                          // extra CA bundle (PEM); "" = system store
};

/// `core::HttpClient` over blocking libcurl easy transfers on a private thread pool.
/// Only http and https; TLS always verified; redirects returned, never followed. Error
/// messages name the method and scheme-less host:port, never the URL's path, query or
/// header values (Slack's response_url and Authorization are credentials).
class CurlHttpClient final : public core::HttpClient {
public:
    explicit CurlHttpClient(CurlHttpClientOptions options = {});
    /// Aborts transfers in flight (they complete with ErrorKind::Cancelled) and joins the pool.
    ~CurlHttpClient() override;
    CurlHttpClient(const CurlHttpClient&) = delete;
    CurlHttpClient& operator=(const CurlHttpClient&) = delete;

    /// Performs one request on the pool and resumes on the caller's executor. Any HTTP status
    /// is a response; Timeout, Network, Tls, Protocol (body cap), Invalid (URL, scheme,
    /// header) and Cancelled (per-operation cancellation, shutdown) are errors.
    boost::asio::awaitable<core::Result<core::HttpResponse>> send(
        core::HttpRequest request) override;

private:
    CurlGlobal global_;
    CurlHttpClientOptions options_;
    std::shared_ptr<std::atomic<bool>> stopping_;
    boost::asio::thread_pool pool_;
};

}  // namespace rollbot::actions
