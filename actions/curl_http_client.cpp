#include "actions/curl_http_client.hpp"

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <utility>

namespace rollbot::actions {
namespace {

namespace asio = boost::asio;
using core::Error;
using core::ErrorKind;
using core::HttpRequest;
using core::HttpResponse;
using core::Result;

constexpr const char* kUserAgent = "rollbot/" ROLLBOT_VERSION;

using EasyHandle = std::unique_ptr<CURL, decltype(&curl_easy_cleanup)>;
using HeaderList = std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)>;

/// One request as the pool thread sees it: copies only, nothing that points into the client.
struct Job {
    HttpRequest request;
    std::string ca_file;
    std::size_t max_body_bytes = 0;
    std::shared_ptr<const std::atomic<bool>> stopping;
    std::shared_ptr<std::atomic<bool>> cancelled = std::make_shared<std::atomic<bool>>(false);
};

/// What messages may say about where a request went (scheme-less host:port), and the parts of
/// the URL that must never appear in them.
struct Target {
    std::string scheme;
    std::string host_port;
    std::array<std::string, 2> secrets;  // path, query
};

/// State the libcurl callbacks write to during one transfer.
struct Transfer {
    std::string body{};
    core::Headers headers{};
    std::size_t max_body_bytes = 0;
    bool body_too_large = false;
    const std::atomic<bool>* stopping = nullptr;
    const std::atomic<bool>* cancelled = nullptr;
};

char ascii_lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string_view trim(std::string_view s) {
    const auto first = s.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos) {
        return {};
    }
    return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

// RFC 9110 `token`: methods and header names. Rejecting anything else keeps a caller's string
// from smuggling a line break into the request head.
bool is_token(std::string_view s) {
    static constexpr std::string_view kExtra = "!#$%&'*+-.^_`|~";
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               kExtra.find(c) != std::string_view::npos;
    });
}

std::string url_part(CURLU* url, CURLUPart part, unsigned int flags) {
    char* text = nullptr;
    if (curl_url_get(url, part, &text, flags) != CURLUE_OK || text == nullptr) {
        return {};
    }
    std::string out(text);
    curl_free(text);
    return out;
}

std::optional<Target> parse_target(const std::string& url_text) {
    const std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> url(curl_url(), &curl_url_cleanup);
    ROLLBOT_CHECK(url != nullptr, "curl_url: out of memory");
    // NON_SUPPORT_SCHEME: parse file:// and friends too, so they get our own refusal.
    if (url_text.find('\0') != std::string::npos ||
        curl_url_set(url.get(), CURLUPART_URL, url_text.c_str(), CURLU_NON_SUPPORT_SCHEME) !=
            CURLUE_OK) {
        return std::nullopt;
    }
    Target target;
    target.scheme = url_part(url.get(), CURLUPART_SCHEME, 0);
    const auto host = url_part(url.get(), CURLUPART_HOST, 0);
    const auto port = url_part(url.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT);
    target.host_port = port.empty() ? host : host + ":" + port;
    target.secrets = {url_part(url.get(), CURLUPART_PATH, 0),
                      url_part(url.get(), CURLUPART_QUERY, 0)};
    return target;
}

// libcurl's own error text sometimes quotes what it was given; cut anything URL-shaped out.
std::string scrub(std::string text, const Target& target) {
    for (const auto& secret : target.secrets) {
        if (secret.size() < 2) {
            continue;
        }
        constexpr std::string_view kMask = "***";
        for (auto at = text.find(secret); at != std::string::npos;
             at = text.find(secret, at + kMask.size())) {
            text.replace(at, secret.size(), kMask);
        }
    }
    return text;
}

Error request_error(ErrorKind kind,
                    const HttpRequest& request,
                    const Target& target,
                    std::string_view what) {
    const auto& where = target.host_port.empty() ? target.scheme + "://" : target.host_port;
    return Error{kind, fmt::format("http.send: {} {}: {}", request.method, where, what)};
}

/// Why libcurl must not be given this request, if it must not.
std::optional<std::string> refusal(const HttpRequest& request, const Target& target) {
    if (target.scheme != "http" && target.scheme != "https") {
        return fmt::format("scheme \"{}\" is not allowed (only http and https)", target.scheme);
    }
    if (target.host_port.empty()) {
        return "the URL has no host";
    }
    for (const auto& [name, value] : request.headers) {
        if (!is_token(name) || value.find_first_of("\r\n") != std::string::npos) {
            return "malformed request header";
        }
    }
    // libcurl reads 0 as "no limit": every request must have a deadline.
    if (request.timeout.count() <= 0 || request.connect_timeout.count() <= 0) {
        return "timeouts must be positive";
    }
    return std::nullopt;
}

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
    auto& transfer = *static_cast<Transfer*>(user);
    const std::size_t n = size * count;
    if (n > transfer.max_body_bytes - transfer.body.size()) {
        transfer.body_too_large = true;
        return 0;  // anything but n aborts the transfer with CURLE_WRITE_ERROR
    }
    transfer.body.append(data, n);
    return n;
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
    auto& transfer = *static_cast<Transfer*>(user);
    const std::size_t n = size * count;
    const std::string_view line(data, n);
    if (line.starts_with("HTTP/")) {
        transfer.headers.clear();  // a new status line: only the final response's headers count
        return n;
    }
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0 || line[0] == ' ' || line[0] == '\t') {
        return n;  // the blank line that ends the block, or an obsolete folded continuation
    }
    std::string name(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(), ascii_lower);
    transfer.headers.emplace_back(std::move(name), std::string(trim(line.substr(colon + 1))));
    return n;
}

int on_progress(void* user,
                curl_off_t /*dltotal*/,
                curl_off_t /*dlnow*/,
                curl_off_t /*ultotal*/,
                curl_off_t /*ulnow*/) {
    const auto& transfer = *static_cast<const Transfer*>(user);
    return (transfer.stopping->load() || transfer.cancelled->load()) ? 1 : 0;
}

HeaderList build_headers(const core::Headers& headers) {
    HeaderList list(nullptr, &curl_slist_free_all);
    const auto append = [&list](const std::string& line) {
        curl_slist* head = curl_slist_append(list.get(), line.c_str());
        ROLLBOT_CHECK(head != nullptr, "curl_slist_append: out of memory");
        (void)list.release();
        list.reset(head);
    };
    // An empty "Expect:" stops libcurl from waiting for `100 Continue` before sending a body.
    append("Expect:");
    for (const auto& [name, value] : headers) {
        // "Name:" would remove a header in libcurl; "Name;" is how it sends an empty value.
        std::string line = name;
        line += value.empty() ? ";" : ": ";
        line += value;
        append(line);
    }
    return list;
}

CURLcode configure_transfer(CURL* easy, const Job& job, Transfer& transfer, char* errors) {
    const auto& request = job.request;
    CURLcode rc = CURLE_OK;
    const auto keep = [&rc](CURLcode next) {
        if (rc == CURLE_OK) {
            rc = next;
        }
    };
    keep(curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errors));
    keep(curl_easy_setopt(easy, CURLOPT_URL, request.url.c_str()));
    keep(curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L));
    keep(curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https"));
    keep(curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https"));
    keep(curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L));
    keep(curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L));
    keep(curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L));
    if (!job.ca_file.empty()) {
        keep(curl_easy_setopt(easy, CURLOPT_CAINFO, job.ca_file.c_str()));
    }
    keep(curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count())));
    keep(curl_easy_setopt(
        easy, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(request.connect_timeout.count())));
    keep(curl_easy_setopt(easy, CURLOPT_USERAGENT, kUserAgent));
    // Refuses early when Content-Length already says too much; on_body enforces the rest.
    keep(curl_easy_setopt(
        easy, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(job.max_body_bytes)));
    keep(curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &on_body));
    keep(curl_easy_setopt(easy, CURLOPT_WRITEDATA, &transfer));
    keep(curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &on_header));
    keep(curl_easy_setopt(easy, CURLOPT_HEADERDATA, &transfer));
    keep(curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L));
    keep(curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, &on_progress));
    keep(curl_easy_setopt(easy, CURLOPT_XFERINFODATA, &transfer));
    return rc;
}

CURLcode configure_method(CURL* easy, const HttpRequest& request) {
    if (request.method == "GET") {
        return curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
    }
    if (request.method == "HEAD") {
        return curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
    }
    CURLcode rc = CURLE_OK;
    if (request.method != "POST") {
        rc = curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    }
    const auto size = static_cast<curl_off_t>(request.body.size());
    if (rc == CURLE_OK && (request.method == "POST" || size > 0)) {
        rc = curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, size);
    }
    if (rc == CURLE_OK && (request.method == "POST" || size > 0)) {
        rc = curl_easy_setopt(easy, CURLOPT_POSTFIELDS, request.body.data());
    }
    return rc;
}

/// The kind and the human reason of a failed transfer (timeouts and the body cap aside).
std::pair<ErrorKind, std::string> classify(CURLcode code, long os_errno, std::string_view errors) {
    switch (code) {
        case CURLE_COULDNT_CONNECT:
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
            if (os_errno != 0) {
                auto text = std::generic_category().message(static_cast<int>(os_errno));
                std::transform(text.begin(), text.end(), text.begin(), ascii_lower);
                return {ErrorKind::Network, text};  // "connection refused", "… reset by peer"
            }
            return {ErrorKind::Network, curl_easy_strerror(code)};
        case CURLE_COULDNT_RESOLVE_HOST:
            return {ErrorKind::Network, "could not resolve host"};
        case CURLE_COULDNT_RESOLVE_PROXY:
            return {ErrorKind::Network, "could not resolve the proxy"};
        case CURLE_GOT_NOTHING:
            return {ErrorKind::Network, "connection closed without a response"};
        case CURLE_PARTIAL_FILE:
            return {ErrorKind::Network, "connection closed in the middle of the response"};
        case CURLE_ABORTED_BY_CALLBACK:
            return {ErrorKind::Cancelled, "cancelled"};
        default:
            break;
    }
    // The TLS failures our options can produce: no client certificates, CRLs, pinning or engines.
    const bool tls = code == CURLE_SSL_CONNECT_ERROR || code == CURLE_PEER_FAILED_VERIFICATION ||
                     code == CURLE_SSL_CACERT_BADFILE || code == CURLE_SSL_CIPHER ||
                     code == CURLE_SSL_SHUTDOWN_FAILED;
    const auto kind =
        tls ? ErrorKind::Tls
            : (code == CURLE_URL_MALFORMAT ? ErrorKind::Invalid : ErrorKind::Protocol);
    // libcurl's buffer has the detail TLS failures need ("unable to get local issuer certificate").
    return {kind, errors.empty() ? std::string(curl_easy_strerror(code)) : std::string(errors)};
}

Error transfer_error(CURLcode code,
                     CURL* easy,
                     const Transfer& transfer,
                     const Job& job,
                     const Target& target,
                     std::string_view errors) {
    const auto& request = job.request;
    if (transfer.body_too_large || code == CURLE_FILESIZE_EXCEEDED) {
        return request_error(
            ErrorKind::Protocol,
            request,
            target,
            fmt::format("response body larger than the {} byte limit", job.max_body_bytes));
    }
    if (code == CURLE_OPERATION_TIMEDOUT) {
        const auto limit = fmt::format("timed out (limit {} ms)", request.timeout.count());
        return request_error(ErrorKind::Timeout, request, target, limit);
    }
    long os_errno = 0;
    (void)curl_easy_getinfo(easy, CURLINFO_OS_ERRNO, &os_errno);
    auto [kind, what] = classify(code, os_errno, errors);
    return request_error(kind, request, target, scrub(std::move(what), target));
}

/// Runs on a pool thread: one easy handle, one blocking transfer.
// One easy handle per pool thread. libcurl keeps its connection cache, DNS cache and TLS
// session cache across curl_easy_reset, so consecutive Web API calls reuse one keep-alive TLS
// connection to Slack instead of paying a TCP and TLS handshake each. Freed when the pool's
// thread ends (the client's destructor joins the pool).
CURL* thread_handle() {
    thread_local const EasyHandle kEasy(curl_easy_init(), &curl_easy_cleanup);
    ROLLBOT_CHECK(kEasy != nullptr, "curl_easy_init failed");
    return kEasy.get();
}

// Options point at this transfer's stack (error buffer, header list, callbacks' data): clear
// them when the transfer ends, whichever way it ends.
class ResetOnExit {
public:
    explicit ResetOnExit(CURL* easy) : easy_(easy) { curl_easy_reset(easy_); }
    ~ResetOnExit() { curl_easy_reset(easy_); }
    ResetOnExit(const ResetOnExit&) = delete;
    ResetOnExit& operator=(const ResetOnExit&) = delete;
    ResetOnExit(ResetOnExit&&) = delete;
    ResetOnExit& operator=(ResetOnExit&&) = delete;

private:
    CURL* easy_;
};

Result<HttpResponse> perform(const Job& job) {
    const auto& request = job.request;
    if (!is_token(request.method)) {
        return Error{ErrorKind::Invalid, "http.send: the request method is not a valid token"};
    }
    const auto target = parse_target(request.url);
    if (!target) {
        return Error{ErrorKind::Invalid,
                     fmt::format("http.send: {} <malformed URL>: cannot parse it", request.method)};
    }
    if (const auto why = refusal(request, *target)) {
        return request_error(ErrorKind::Invalid, request, *target, *why);
    }
    if (job.stopping->load() || job.cancelled->load()) {
        return request_error(ErrorKind::Cancelled, request, *target, "cancelled");
    }
    CURL* const easy = thread_handle();
    Transfer transfer{.max_body_bytes = job.max_body_bytes,
                      .stopping = job.stopping.get(),
                      .cancelled = job.cancelled.get()};
    std::array<char, CURL_ERROR_SIZE> errors{};
    const HeaderList headers = build_headers(request.headers);
    const ResetOnExit reset(easy);  // declared last: resets before the above are destroyed

    CURLcode rc = configure_transfer(easy, job, transfer, errors.data());
    if (rc == CURLE_OK) {
        rc = configure_method(easy, request);
    }
    if (rc == CURLE_OK) {
        rc = curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers.get());
    }
    const auto start = std::chrono::steady_clock::now();
    if (rc == CURLE_OK) {
        rc = curl_easy_perform(easy);
    }
    const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start);
    if (rc != CURLE_OK || transfer.body_too_large) {
        return transfer_error(rc, easy, transfer, job, *target, errors.data());
    }
    long status = 0;
    (void)curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    return HttpResponse{
        static_cast<int>(status), std::move(transfer.headers), std::move(transfer.body), elapsed};
}

/// Runs `job` on `pool` and completes `handler` on the handler's own executor. Cancelling the
/// operation aborts the transfer at libcurl's next progress callback.
template <class Handler>
void start_on_pool(Handler handler, asio::thread_pool::executor_type pool, Job job) {
    auto slot = asio::get_associated_cancellation_slot(handler);
    if (slot.is_connected()) {
        slot.assign([flag = job.cancelled](asio::cancellation_type) { flag->store(true); });
    }
    auto work = asio::make_work_guard(asio::get_associated_executor(handler));
    asio::post(
        pool,
        [job = std::move(job), handler = std::move(handler), work = std::move(work)]() mutable {
            auto result = perform(job);
            asio::post(work.get_executor(),
                       [handler = std::move(handler), result = std::move(result)]() mutable {
                           asio::get_associated_cancellation_slot(handler).clear();
                           std::move(handler)(std::move(result));
                       });
            work.reset();
        });
}

template <class Token>
auto async_perform(asio::thread_pool::executor_type pool, Job job, Token&& token) {
    return asio::async_initiate<Token, void(Result<HttpResponse>)>(
        [](auto handler, asio::thread_pool::executor_type on, Job j) {
            start_on_pool(std::move(handler), on, std::move(j));
        },
        token,
        pool,
        std::move(job));
}

}  // namespace

CurlGlobal::CurlGlobal() {
    // A function-local static runs exactly once, and before any thread we start.
    static const CURLcode kInit = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (kInit != CURLE_OK) {
        throw std::runtime_error(fmt::format("curl_global_init: {}", curl_easy_strerror(kInit)));
    }
}

CurlHttpClient::CurlHttpClient(CurlHttpClientOptions options)
    : options_(std::move(options)),
      stopping_(std::make_shared<std::atomic<bool>>(false)),
      pool_(options_.threads) {
    ROLLBOT_CHECK(options_.threads > 0, "CurlHttpClient needs at least one thread");
}

CurlHttpClient::~CurlHttpClient() {
    stopping_->store(true);
    pool_.join();  // queued jobs still run (and complete as Cancelled), so every caller resumes
}

boost::asio::awaitable<Result<HttpResponse>> CurlHttpClient::send(HttpRequest request) {
    Job job;
    job.request = std::move(request);
    job.ca_file = options_.ca_file;
    job.max_body_bytes = options_.max_body_bytes;
    job.stopping = stopping_;
    co_return co_await async_perform(pool_.get_executor(), std::move(job), asio::use_awaitable);
}

}  // namespace rollbot::actions
