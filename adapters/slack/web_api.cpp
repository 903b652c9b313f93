// SlackWebApi, the transport half: building requests, reading answers, 429 blocks, retries,
// logs and stats. The methods themselves are in web_api_methods.cpp.
#include "adapters/slack/web_api.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <random>
#include <string_view>
#include <tuple>
#include <utility>

namespace rollbot::slack {
namespace {

namespace asio = boost::asio;
using core::Error;
using core::ErrorKind;
using core::Result;
using Ms = std::chrono::milliseconds;

// A Retry-After beyond this is a broken header rather than advice worth stalling a rollback for.
constexpr Ms kMaxRetryAfter{std::chrono::minutes(5)};
constexpr Ms kConnectTimeout{std::chrono::seconds(5)};

// Answers no retry can fix: the token or the app must change. On apps.connections.open they
// stop the reconnect loop (the Node SDK's unrecoverable list plus the token-shape errors).
constexpr std::array<std::string_view, 9> kAuthErrors{"invalid_auth",
                                                      "not_authed",
                                                      "account_inactive",
                                                      "token_revoked",
                                                      "token_expired",
                                                      "user_removed_from_team",
                                                      "team_disabled",
                                                      "missing_scope",
                                                      "not_allowed_token_type"};
constexpr std::array<std::string_view, 6> kNotFoundErrors{"channel_not_found",
                                                          "message_not_found",
                                                          "thread_not_found",
                                                          "user_not_found",
                                                          "user_not_visible",
                                                          "no_such_subteam"};
// Slack failed while handling the request: like a 5xx, it may or may not have been done.
constexpr std::array<std::string_view, 4> kServerErrors{
    "internal_error", "fatal_error", "service_unavailable", "request_timeout"};

template <std::size_t N>
bool one_of(std::string_view code, const std::array<std::string_view, N>& codes) {
    return std::find(codes.begin(), codes.end(), code) != codes.end();
}

/// How call() goes on after one attempt.
enum class Next {
    Done,         // success, or an answer no repetition can change
    Block,        // rate limited: block the method for `wait`, then try again
    Retry,        // Slack may have acted on it: only idempotent calls try again
    RetryUnsent,  // the request surely never reached Slack: any call may try again
};

struct Verdict {
    Next next = Next::Done;
    Result<std::string> result{std::string{}};  // the body on success
    Ms wait{0};
    std::string warning{};  // Slack's `warning`, for the log
};

Verdict failed(Next next, ErrorKind kind, std::string message, std::optional<int> status = {}) {
    Error error{kind, std::move(message)};
    error.http_status = status;
    return Verdict{next, Result<std::string>{std::move(error)}};
}

/// Slack's codes and scopes are short words; anything else is not echoed into a message.
std::string safe_word(const nlohmann::json* value) {
    if (value == nullptr || !value->is_string()) {
        return "<none>";
    }
    const auto& s = value->get_ref<const std::string&>();
    const bool plain = !s.empty() && s.size() <= 200 && std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == ':' ||
               c == ',' || c == '.' || c == '-';
    });
    return plain ? s : "<malformed>";
}

const nlohmann::json* member(const nlohmann::json& object, const char* key) {
    const auto it = object.find(key);
    return it == object.end() ? nullptr : &*it;
}

/// `Retry-After` in seconds; `fallback` when missing or not a number, capped when absurd.
Ms retry_after(const core::HttpResponse& response, Ms fallback) {
    const std::string* header = response.header("retry-after");
    if (header == nullptr) {
        return fallback;
    }
    const auto first = header->find_first_not_of(" \t");
    const auto last = header->find_last_not_of(" \t");
    if (first == std::string::npos) {
        return fallback;
    }
    const std::string_view digits(header->data() + first, last - first + 1);
    if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return fallback;  // an HTTP-date, or garbage
    }
    if (digits.size() > 6) {
        return kMaxRetryAfter;
    }
    const Ms wait = std::chrono::seconds(std::stoll(std::string(digits)));
    return std::min(wait, kMaxRetryAfter);
}

Verdict rate_limited(std::string_view method, int status, Ms wait) {
    Error error{ErrorKind::RateLimited,
                fmt::format("slack.{}: rate limited (retry after {} ms)", method, wait.count())};
    error.http_status = status;
    error.retry_after = wait;
    return Verdict{Next::Block, Result<std::string>{std::move(error)}, wait};
}

/// What a 200 from a Web API method says: `ok`, or the error code mapped to a kind.
Verdict judge_body(std::string_view method,
                   const core::HttpResponse& response,
                   std::string_view accepted_error,
                   Ms default_retry_after) {
    const auto json = nlohmann::json::parse(response.body, nullptr, false);
    const nlohmann::json* ok = json.is_object() ? member(json, "ok") : nullptr;
    if (ok == nullptr || !ok->is_boolean()) {
        return failed(Next::Done,
                      ErrorKind::Protocol,
                      fmt::format("slack.{}: the answer is not a Web API response", method));
    }
    std::string warning;
    if (const auto* w = member(json, "warning")) {
        warning = safe_word(w);
    }
    const std::string code = safe_word(member(json, "error"));
    if (ok->get<bool>() || code == accepted_error) {
        return Verdict{Next::Done, Result<std::string>{response.body}, Ms{0}, std::move(warning)};
    }
    // `ratelimited` is the 429 body; `rate_limited` is chat.postMessage's "posting too fast":
    // in both cases nothing was done, so waiting and repeating is safe.
    if (code == "ratelimited" || code == "rate_limited") {
        return rate_limited(method, response.status, retry_after(response, default_retry_after));
    }
    std::string message = fmt::format("slack.{}: {}", method, code);
    if (code == "missing_scope") {
        message += fmt::format(" (needed: {}, provided: {})",
                               safe_word(member(json, "needed")),
                               safe_word(member(json, "provided")));
    }
    if (one_of(code, kAuthErrors)) {
        return failed(Next::Done, ErrorKind::Unauthorized, std::move(message));
    }
    if (one_of(code, kNotFoundErrors)) {
        return failed(Next::Done, ErrorKind::NotFound, std::move(message));
    }
    if (one_of(code, kServerErrors)) {
        return failed(Next::Retry, ErrorKind::Http5xx, std::move(message));
    }
    return failed(Next::Done, ErrorKind::Http4xx, std::move(message));
}

/// Status first: a 429 or a 5xx may carry HTML, so the body is only read on a 200.
Verdict judge_answer(std::string_view method,
                     bool response_url,
                     const core::HttpResponse& response,
                     std::string_view accepted_error,
                     Ms default_retry_after) {
    const int status = response.status;
    if (status == 429) {
        return rate_limited(method, status, retry_after(response, default_retry_after));
    }
    if (status >= 500 && status <= 599) {
        return failed(Next::Retry,
                      ErrorKind::Http5xx,
                      fmt::format("slack.{}: HTTP {}", method, status),
                      status);
    }
    if (response_url) {
        // Like Bolt's respond(): any 2xx is done.
        if (status >= 200 && status <= 299) {
            return Verdict{Next::Done, Result<std::string>{response.body}};
        }
        // A refusal is a bare word (`expired_url`, `used_url`) or a JSON `{"error": …}`.
        const auto parsed = nlohmann::json::parse(response.body, nullptr, false);
        const auto bare = nlohmann::json(response.body);
        const nlohmann::json* word = parsed.is_object() ? member(parsed, "error") : nullptr;
        return failed(Next::Done,
                      status >= 400 ? ErrorKind::Http4xx : ErrorKind::Protocol,
                      fmt::format("slack.{}: HTTP {} ({})",
                                  method,
                                  status,
                                  safe_word(word != nullptr ? word : &bare)),
                      status);
    }
    if (status != 200) {
        return failed(Next::Done,
                      status >= 400 ? ErrorKind::Http4xx : ErrorKind::Protocol,
                      fmt::format("slack.{}: HTTP {}", method, status),
                      status);
    }
    return judge_body(method, response, accepted_error, default_retry_after);
}

/// No answer at all: did the request possibly reach Slack?
Verdict judge_failure(std::string_view method, const Error& error) {
    auto verdict =
        failed(Next::Done, error.kind, fmt::format("slack.{}: {}", method, error.message));
    if (error.kind == ErrorKind::Network) {
        // CurlHttpClient's wording for failures before a single byte was sent.
        const bool unsent = error.message.find("connection refused") != std::string::npos ||
                            error.message.find("could not resolve") != std::string::npos;
        verdict.next = unsent ? Next::RetryUnsent : Next::Retry;
    } else if (error.kind == ErrorKind::Timeout) {
        verdict.next = Next::Retry;
    }
    return verdict;
}

/// Waits without blocking the io_context thread; false when the wait was cancelled.
asio::awaitable<bool> pause(asio::any_io_executor executor, Ms wait) {
    asio::steady_timer timer(executor, wait);
    auto waited = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    co_return !std::get<0>(waited);
}

Error cancelled(const std::string& method) {
    return Error{ErrorKind::Cancelled, fmt::format("slack.{}: cancelled", method)};
}

}  // namespace

SlackWebApi::SlackWebApi(boost::asio::any_io_executor executor,
                         core::HttpClient& http,
                         std::string api_url,
                         core::Secret bot_token,
                         core::Secret app_token,
                         const core::Clock& clock,
                         std::shared_ptr<spdlog::logger> log,
                         WebApiOptions options,
                         std::function<double()> random)
    : executor_(std::move(executor)),
      http_(http),
      api_url_(std::move(api_url)),
      bot_token_(std::move(bot_token)),
      app_token_(std::move(app_token)),
      clock_(clock),
      log_(std::move(log)),
      options_(options),
      random_(std::move(random)) {
    ROLLBOT_CHECK(log_ != nullptr, "SlackWebApi needs a logger");
    if (!api_url_.empty() && api_url_.back() != '/') {
        api_url_ += '/';  // like the SDKs' slackApiUrl
    }
    if (!random_) {
        random_ = [engine = std::mt19937_64{std::random_device{}()},
                   uniform = std::uniform_real_distribution<double>(0.0, 1.0)]() mutable {
            return uniform(engine);
        };
    }
}

core::HttpRequest SlackWebApi::make_request(const Call& spec) const {
    core::HttpRequest request;
    request.method = "POST";
    request.timeout = options_.timeout;
    request.connect_timeout = std::min(options_.timeout, kConnectTimeout);
    if (spec.response_url) {
        // The URL is the credential: no Authorization header.
        request.url = spec.response_url->reveal();
        request.headers.emplace_back("Content-Type", "application/json; charset=utf-8");
        request.body = spec.json;
        return request;
    }
    request.url = api_url_ + spec.method;
    const auto& token = spec.app_token ? app_token_ : bot_token_;
    request.headers.emplace_back("Authorization", "Bearer " + token.reveal());
    request.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
    for (const auto& [name, value] : spec.args) {
        if (!request.body.empty()) {
            request.body += '&';
        }
        request.body += core::form_encode(name);
        request.body += '=';
        request.body += core::form_encode(value);
    }
    return request;
}

// Blocks are measured on the real steady clock because the steady_timer that waits them out is.
std::chrono::milliseconds SlackWebApi::blocked_for(const std::string& method) const {
    const auto it = blocked_until_.find(method);
    if (it == blocked_until_.end()) {
        return Ms{0};
    }
    const auto left = it->second - std::chrono::steady_clock::now();
    return std::max(Ms{0}, std::chrono::ceil<Ms>(left));
}

void SlackWebApi::block(const std::string& method, std::chrono::milliseconds wait) {
    const auto until = std::chrono::steady_clock::now() + wait;
    auto& current = blocked_until_[method];
    current = std::max(current, until);
}

std::string SlackWebApi::scrub(std::string text, const Call& spec) const {
    std::vector<std::string> secrets{bot_token_.reveal(), app_token_.reveal()};
    if (spec.response_url) {
        const auto& url = spec.response_url->reveal();
        secrets.push_back(url);
        if (const auto scheme = url.find("://"); scheme != std::string::npos) {
            if (const auto path = url.find('/', scheme + 3); path != std::string::npos) {
                secrets.push_back(url.substr(path));
            }
        }
    }
    for (const auto& secret : secrets) {
        if (secret.size() < 4) {
            continue;
        }
        for (auto at = text.find(secret); at != std::string::npos; at = text.find(secret, at)) {
            text.replace(at, secret.size(), "***");
        }
    }
    return core::redact(text);
}

boost::asio::awaitable<Result<std::string>> SlackWebApi::call(Call spec) {
    const std::string method = spec.method;
    auto& stats = stats_[method];  // std::map nodes stay put while other methods are added
    ++stats.calls;
    Backoff backoff(options_.retry_base, options_.retry_cap, [this] { return random_(); });
    const int attempts = std::max(1, options_.max_attempts);
    Error last{ErrorKind::RateLimited, fmt::format("slack.{}: rate limited", method)};
    Ms delay{0};
    for (int attempt = 1; attempt <= attempts; ++attempt) {
        if (delay > Ms{0}) {
            const bool slept = co_await pause(executor_, delay);
            if (!slept) {
                ++stats.errors;
                co_return cancelled(method);
            }
        }
        // Another call's 429 (or our own) blocks the whole method: wait it out, don't ask.
        if (const Ms blocked = blocked_for(method); blocked > Ms{0}) {
            log_->warn("slack.api.blocked method={} wait_ms={} attempt={}/{}",
                       method,
                       blocked.count(),
                       attempt,
                       attempts);
            const bool slept = co_await pause(executor_, blocked);
            if (!slept) {
                ++stats.errors;
                co_return cancelled(method);
            }
            if (blocked_for(method) > Ms{0}) {
                continue;  // extended meanwhile by another call's 429: that cost an attempt
            }
        }
        auto request = make_request(spec);
        const auto started = std::chrono::steady_clock::now();
        auto answer = co_await http_.send(std::move(request));
        const auto ms = std::chrono::duration_cast<Ms>(std::chrono::steady_clock::now() - started);
        Verdict verdict = answer ? judge_answer(method,
                                                spec.response_url.has_value(),
                                                *answer,
                                                spec.accepted_error,
                                                options_.default_retry_after)
                                 : judge_failure(method, answer.error());
        log_->debug("slack.api method={} status={} ok={} ms={}",
                    method,
                    answer ? answer->status : 0,
                    verdict.result.has_value(),
                    ms.count());
        if (!verdict.warning.empty()) {
            log_->warn("slack.api.warning method={} warning={}", method, verdict.warning);
        }
        if (verdict.result.has_value()) {
            co_return std::move(*verdict.result);
        }
        last = verdict.result.error();  // boost::system::result returns a copy
        last.message = scrub(std::move(last.message), spec);
        const bool retry = verdict.next == Next::Block || verdict.next == Next::RetryUnsent ||
                           (verdict.next == Next::Retry && spec.idempotent);
        if (!retry) {
            if (verdict.next == Next::Retry) {
                last.message += " (not repeated: Slack may have acted on it)";
            }
            ++stats.errors;
            co_return last;
        }
        if (verdict.next == Next::Block) {
            ++stats.rate_limited;
            block(method, verdict.wait);
            log_->warn("slack.api.rate_limited method={} retry_after_ms={} attempt={}/{}",
                       method,
                       verdict.wait.count(),
                       attempt,
                       attempts);
            continue;
        }
        if (attempt == attempts) {
            break;
        }
        delay = backoff.next();
        log_->warn("slack.api.retry method={} error=\"{}\" wait_ms={} attempt={}/{}",
                   method,
                   last.message,
                   delay.count(),
                   attempt,
                   attempts);
    }
    ++stats.errors;
    last.message += fmt::format(" (gave up after {} attempts)", attempts);
    log_->warn(
        "slack.api.gave_up method={} attempts={} error=\"{}\"", method, attempts, last.message);
    co_return last;
}

}  // namespace rollbot::slack
