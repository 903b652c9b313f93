#include "actions/health_verifier.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <string_view>
#include <utility>

namespace rollbot::actions {
namespace {

using std::chrono::milliseconds;

// HttpClient errors read "http.send: GET host:port: connection refused"; the check already
// says where it went, so keep only the reason. Other messages are kept whole.
std::string_view reason(std::string_view message) {
    constexpr std::string_view kPrefix = "http.send: ";
    if (!message.starts_with(kPrefix)) {
        return message;
    }
    const auto end = message.find(": ", kPrefix.size());
    return end == std::string_view::npos ? message : message.substr(end + 2);
}

// Health URLs sometimes carry a token in the query; the detail is posted to Slack.
std::string without_query(std::string text, std::string_view url) {
    const auto mark = url.find('?');
    if (mark == std::string_view::npos || mark + 1 == url.size()) {
        return text;
    }
    const auto query = url.substr(mark + 1, url.find('#', mark) - (mark + 1));
    constexpr std::string_view kMask = "***";
    for (auto at = text.find(query); at != std::string::npos;
         at = text.find(query, at + kMask.size())) {
        text.replace(at, query.size(), kMask);
    }
    return text;
}

core::HealthCheck health_check(const core::Result<core::HttpResponse>& answer,
                               milliseconds measured,
                               std::string_view url) {
    core::HealthCheck check;
    if (!answer) {
        check.latency = measured;
        check.detail =
            without_query(fmt::format("no answer: {}", reason(answer.error().message)), url);
        return check;
    }
    const auto& response = *answer;
    const auto ms = response.elapsed.count();
    check.status = response.status;
    check.latency = response.elapsed;
    check.healthy = response.status >= 200 && response.status < 300;
    if (check.healthy) {
        check.detail = fmt::format("{} OK in {} ms", response.status, ms);
    } else if (response.status >= 300 && response.status < 400) {
        check.detail = fmt::format("{} in {} ms (redirect not followed)", response.status, ms);
    } else {
        check.detail = fmt::format("{} in {} ms", response.status, ms);
    }
    return check;
}

}  // namespace

HealthVerifier::HealthVerifier(core::HttpClient& http, std::string health_url, milliseconds timeout)
    : http_(http), url_(std::move(health_url)), timeout_(timeout) {}

boost::asio::awaitable<core::HealthCheck> HealthVerifier::check_health() {
    core::HttpRequest request;
    request.method = "GET";
    request.url = url_;
    request.timeout = timeout_;
    request.connect_timeout = std::min(request.connect_timeout, timeout_);
    const auto start = std::chrono::steady_clock::now();
    const auto answer = co_await http_.send(std::move(request));
    const auto measured =
        std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start);
    co_return health_check(answer, measured, url_);
}

}  // namespace rollbot::actions
