#pragma once

#include "adapters/slack/backoff.hpp"
#include "bot/chat.hpp"
#include "bot/http.hpp"
#include "bot/ids.hpp"
#include "bot/ports/clock.hpp"
#include "bot/ports/http_client.hpp"
#include "bot/result.hpp"
#include "bot/secret.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <spdlog/logger.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace rollbot::slack {

/// What `auth.test` says about the bot token: who the bot is.
struct AuthInfo {
    core::UserId user_id;  // the bot's own user: its reactions and commands never count
    std::string bot_id;
    std::string team_id;
    std::string team;
    bool operator==(const AuthInfo&) const = default;
};

struct WebApiOptions {
    std::chrono::milliseconds timeout{std::chrono::seconds(10)};
    int max_attempts = 5;  // per call, counting the first; 429 waits count as attempts too
    std::chrono::milliseconds retry_base{std::chrono::milliseconds(500)};
    std::chrono::milliseconds retry_cap{std::chrono::seconds(30)};
    std::chrono::milliseconds default_retry_after{std::chrono::seconds(30)};  // 429 without header
    std::chrono::milliseconds usergroup_ttl{std::chrono::seconds(60)};
    std::chrono::milliseconds user_ttl{std::chrono::minutes(5)};
};

/// Slack's Web API over core::HttpClient, on the io_context thread.
///
/// Every answer's `ok` is checked (an `ok:false` is an Error whose message is
/// "slack.<method>: <error code>"). HTTP 429 blocks that method until `Retry-After` has passed
/// and then retries; 5xx and network errors are retried with backoff only for calls that are
/// safe to repeat (reads, chat.update, reactions.add, apps.connections.open). chat.postMessage
/// is retried only when the request surely never reached Slack (429, connection refused).
/// Tokens travel only in the Authorization header; neither they, the socket URL nor a
/// response_url ever reach a log line or an error message.
class SlackWebApi {
public:
    SlackWebApi(boost::asio::any_io_executor executor,
                core::HttpClient& http,
                std::string api_url,  // "https://slack.com/api/" (trailing slash)
                core::Secret bot_token,
                core::Secret app_token,
                const core::Clock& clock,
                std::shared_ptr<spdlog::logger> log,
                WebApiOptions options = {},
                std::function<double()> random = {});

    /// auth.test with the bot token.
    boost::asio::awaitable<core::Result<AuthInfo>> auth_test();
    /// apps.connections.open with the app token: a fresh, single-use wss:// URL.
    /// Unrecoverable answers (invalid_auth, not_authed, account_inactive, token_revoked, …)
    /// come back as ErrorKind::Unauthorized and are never retried.
    boost::asio::awaitable<core::Result<core::Secret>> open_connection();

    /// chat.postMessage; text longer than Slack's limit becomes several messages (the rest in
    /// the thread of the first), never a silently truncated one. Returns the first message.
    boost::asio::awaitable<core::Result<core::MessageRef>> post_message(
        core::OutboundMessage message);
    /// chat.update (an over-long text keeps its first part here and posts the rest in the
    /// message's thread).
    boost::asio::awaitable<core::Result<void>> update_message(core::MessageRef ref,
                                                              std::string text);
    /// chat.postEphemeral: only `user` sees it.
    boost::asio::awaitable<core::Result<void>> post_ephemeral(core::ChannelId channel,
                                                              core::UserId user,
                                                              std::string text);
    /// reactions.add; `already_reacted` counts as success.
    boost::asio::awaitable<core::Result<void>> add_reaction(core::MessageRef ref, std::string name);
    /// usergroups.users.list, cached for `usergroup_ttl`.
    boost::asio::awaitable<core::Result<std::vector<core::UserId>>> usergroup_members(
        core::UsergroupId group);
    /// users.info, cached for `user_ttl`.
    boost::asio::awaitable<core::Result<core::UserInfo>> user_info(core::UserId user);
    /// POSTs a JSON message to a slash command's response_url (no token: the URL is the
    /// credential). Ephemeral or in_channel.
    boost::asio::awaitable<core::Result<void>> respond(core::Secret response_url,
                                                       core::Visibility visibility,
                                                       std::string text);

    /// Calls made and failures seen, by method (for /metrics).
    struct MethodStats {
        std::uint64_t calls = 0;
        std::uint64_t errors = 0;
        std::uint64_t rate_limited = 0;
    };
    [[nodiscard]] const std::map<std::string, MethodStats>& stats() const { return stats_; }

private:
    /// One request to Slack as call() sends, retries and accounts for it.
    struct Call {
        std::string method;  // Web API method; "response_url" for respond()
        std::vector<std::pair<std::string, std::string>> args;  // form fields
        bool app_token = false;                                 // apps.connections.open only
        // Safe to repeat after a 5xx or a lost answer; otherwise only after 429 or refusal.
        bool idempotent = true;
        std::string accepted_error;  // an `ok:false` code that still means success
        // respond(): POST `json` to this URL, without a token.
        std::optional<core::Secret> response_url;
        std::string json;
    };
    /// The answer's body when Slack said ok (or `accepted_error`), after retries.
    boost::asio::awaitable<core::Result<std::string>> call(Call spec);
    boost::asio::awaitable<core::Result<core::MessageRef>> post_part(core::OutboundMessage message);
    boost::asio::awaitable<core::Result<void>> update_part(core::MessageRef ref, std::string text);
    /// Posts parts[1..] of a split text as replies in `thread`.
    boost::asio::awaitable<core::Result<void>> post_rest(core::MessageRef thread,
                                                         std::vector<std::string> parts);
    [[nodiscard]] core::HttpRequest make_request(const Call& spec) const;
    [[nodiscard]] std::chrono::milliseconds blocked_for(const std::string& method) const;
    void block(const std::string& method, std::chrono::milliseconds wait);
    [[nodiscard]] std::string scrub(std::string text, const Call& spec) const;

    boost::asio::any_io_executor executor_;
    core::HttpClient& http_;
    std::string api_url_;
    core::Secret bot_token_;
    core::Secret app_token_;
    const core::Clock& clock_;
    std::shared_ptr<spdlog::logger> log_;
    WebApiOptions options_;
    std::function<double()> random_;
    // Until when each method is rate limited (std::chrono::steady_clock, like the timers).
    std::map<std::string, std::chrono::steady_clock::time_point> blocked_until_;
    std::map<std::string, MethodStats> stats_;
    // Cached answers with the Clock::steady_now() at which they expire.
    std::map<core::UsergroupId,
             std::pair<std::chrono::steady_clock::time_point, std::vector<core::UserId>>>
        groups_;
    std::map<core::UserId, std::pair<std::chrono::steady_clock::time_point, core::UserInfo>> users_;
};

}  // namespace rollbot::slack
