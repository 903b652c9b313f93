// SlackWebApi, the methods: what each one sends and how its answer becomes a domain value.
// Transport, retries and rate limits are in web_api.cpp.
#include "adapters/slack/message_split.hpp"
#include "adapters/slack/web_api.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <string_view>
#include <utility>

namespace rollbot::slack {
namespace {

using core::Error;
using core::ErrorKind;
using core::Result;
using Json = nlohmann::json;

/// The body of an answer call() has already found to be a JSON object with `ok`.
Json parse_object(const std::string& body) {
    auto json = Json::parse(body, nullptr, false);
    return json.is_object() ? json : Json::object();
}

std::string text_field(const Json& object, const char* key) {
    if (!object.is_object()) {
        return {};
    }
    const auto it = object.find(key);
    return it != object.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

bool bool_field(const Json& object, const char* key) {
    if (!object.is_object()) {
        return false;
    }
    const auto it = object.find(key);
    return it != object.end() && it->is_boolean() && it->get<bool>();
}

Error protocol_error(std::string_view method, std::string_view what) {
    return Error{ErrorKind::Protocol, fmt::format("slack.{}: {}", method, what)};
}

bool loopback_host(std::string_view host) {
    if (host == "localhost") {
        return true;
    }
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    boost::system::error_code ec;
    const auto address = boost::asio::ip::make_address(std::string(host), ec);
    return !ec && address.is_loopback();
}

/// Why `url` must not be used (without ever quoting it), or nullopt. `secure` is the scheme
/// for production (`wss`, `https`); `plain` (`ws`, `http`) is only for loopback test servers.
std::optional<std::string> url_problem(std::string_view url,
                                       std::string_view secure,
                                       std::string_view plain) {
    if (std::any_of(url.begin(), url.end(), [](char c) {
            return static_cast<unsigned char>(c) <= ' ' || c == 0x7f;
        })) {
        return fmt::format("the URL is not a valid {}:// URL", secure);
    }
    const auto colon = url.find("://");
    const auto scheme = url.substr(0, colon == std::string_view::npos ? 0 : colon);
    if (scheme != secure && scheme != plain) {
        return fmt::format("the URL is not {}://", secure);
    }
    const auto rest = url.substr(colon + 3);
    const auto authority = rest.substr(0, rest.find_first_of("/?#"));
    auto host = authority;
    if (authority.starts_with('[')) {
        host = authority.substr(0, authority.find(']') + 1);
    } else {
        host = authority.substr(0, authority.find(':'));
    }
    if (host.empty() || authority.find('@') != std::string_view::npos) {
        return fmt::format("the {}:// URL has no valid host", secure);
    }
    if (scheme == plain && !loopback_host(host)) {
        return fmt::format("plain {}:// is accepted only for a loopback host", plain);
    }
    return std::nullopt;
}

std::string strip_colons(std::string name) {
    // "white_check_mark", not ":white_check_mark:"; skin tones ("+1::skin-tone-2") stay whole.
    while (name.starts_with(':')) {
        name.erase(0, 1);
    }
    while (name.ends_with(':')) {
        name.pop_back();
    }
    return name;
}

template <class Cache, class Key>
void evict_expired(Cache& cache, const Key& keep, std::chrono::steady_clock::time_point now) {
    std::erase_if(
        cache, [&](const auto& entry) { return entry.first != keep && entry.second.first <= now; });
}

}  // namespace

boost::asio::awaitable<Result<AuthInfo>> SlackWebApi::auth_test() {
    Call spec;
    spec.method = "auth.test";
    auto body = co_await call(std::move(spec));
    if (!body) {
        co_return body.error();
    }
    const auto json = parse_object(*body);
    AuthInfo info;
    info.user_id = core::UserId{text_field(json, "user_id")};
    info.bot_id = text_field(json, "bot_id");
    info.team_id = text_field(json, "team_id");
    info.team = text_field(json, "team");
    if (info.user_id.empty()) {
        co_return protocol_error("auth.test", "the answer has no user_id");
    }
    co_return info;
}

boost::asio::awaitable<Result<core::Secret>> SlackWebApi::open_connection() {
    Call spec;
    spec.method = "apps.connections.open";
    spec.app_token = true;
    auto body = co_await call(std::move(spec));
    if (!body) {
        co_return body.error();
    }
    auto url = text_field(parse_object(*body), "url");
    if (url.empty()) {
        co_return protocol_error("apps.connections.open", "the answer has no url");
    }
    if (const auto problem = url_problem(url, "wss", "ws")) {
        co_return protocol_error("apps.connections.open", *problem);
    }
    co_return core::Secret{std::move(url)};
}

boost::asio::awaitable<Result<core::MessageRef>> SlackWebApi::post_message(
    core::OutboundMessage message) {
    if (message.text.size() <= kMaxMessageBytes) {
        co_return co_await post_part(std::move(message));
    }
    auto parts = split_message(message.text, kMaxMessageBytes);
    if (parts.empty()) {
        co_return co_await post_part(std::move(message));
    }
    core::OutboundMessage first;
    first.channel = message.channel;
    first.thread_ts = message.thread_ts;
    first.text = parts.front();
    auto head = co_await post_part(std::move(first));
    if (!head) {
        co_return head.error();
    }
    // The rest goes in the requested thread, or starts one under part 1.
    core::MessageRef thread = *head;
    if (message.thread_ts) {
        thread.ts = *message.thread_ts;
    }
    auto rest = co_await post_rest(std::move(thread), std::move(parts));
    if (!rest) {
        co_return rest.error();
    }
    co_return *head;
}

boost::asio::awaitable<Result<void>> SlackWebApi::update_message(core::MessageRef ref,
                                                                 std::string text) {
    if (text.size() <= kMaxMessageBytes) {
        co_return co_await update_part(std::move(ref), std::move(text));
    }
    auto parts = split_message(text, kMaxMessageBytes);
    if (parts.empty()) {
        co_return co_await update_part(std::move(ref), std::move(text));
    }
    auto updated = co_await update_part(ref, parts.front());
    if (!updated) {
        co_return updated.error();
    }
    co_return co_await post_rest(std::move(ref), std::move(parts));
}

boost::asio::awaitable<Result<core::MessageRef>> SlackWebApi::post_part(
    core::OutboundMessage message) {
    Call spec;
    spec.method = "chat.postMessage";
    spec.idempotent = false;  // a repeat after a lost answer would post the message twice
    spec.args = {{"channel", message.channel.value}, {"text", message.text}};
    if (message.thread_ts) {
        spec.args.emplace_back("thread_ts", message.thread_ts->value);
    }
    auto body = co_await call(std::move(spec));
    if (!body) {
        co_return body.error();
    }
    const auto json = parse_object(*body);
    core::MessageRef ref;
    ref.channel = core::ChannelId{text_field(json, "channel")};
    ref.ts = core::MessageTs{text_field(json, "ts")};
    if (ref.ts.empty()) {
        co_return protocol_error("chat.postMessage", "the answer has no ts");
    }
    if (ref.channel.empty()) {
        ref.channel = message.channel;
    }
    co_return ref;
}

boost::asio::awaitable<Result<void>> SlackWebApi::update_part(core::MessageRef ref,
                                                              std::string text) {
    Call spec;
    spec.method = "chat.update";  // same channel, ts and text twice is the same edit
    spec.args = {{"channel", ref.channel.value}, {"ts", ref.ts.value}, {"text", std::move(text)}};
    auto body = co_await call(std::move(spec));
    if (!body) {
        co_return body.error();
    }
    co_return Result<void>{};
}

boost::asio::awaitable<Result<void>> SlackWebApi::post_rest(core::MessageRef thread,
                                                            std::vector<std::string> parts) {
    for (std::size_t i = 1; i < parts.size(); ++i) {
        core::OutboundMessage reply;
        reply.channel = thread.channel;
        reply.thread_ts = thread.ts;
        reply.text = std::move(parts[i]);
        auto posted = co_await post_part(std::move(reply));
        if (!posted) {
            // Part 1 is already there; say so, so that nobody mistakes it for the whole text.
            auto error = posted.error();
            error.message +=
                fmt::format(" (part {} of {} of a split message)", i + 1, parts.size());
            co_return error;
        }
    }
    co_return Result<void>{};
}

boost::asio::awaitable<Result<void>> SlackWebApi::post_ephemeral(core::ChannelId channel,
                                                                 core::UserId user,
                                                                 std::string text) {
    // Ephemeral messages have no threads: an over-long text becomes several ephemerals.
    std::vector<std::string> parts;
    if (text.size() > kMaxMessageBytes) {
        parts = split_message(text, kMaxMessageBytes);
    }
    if (parts.empty()) {
        parts.push_back(std::move(text));
    }
    for (auto& part : parts) {
        Call spec;
        spec.method = "chat.postEphemeral";
        spec.idempotent = false;
        spec.args = {{"channel", channel.value}, {"user", user.value}, {"text", std::move(part)}};
        auto body = co_await call(std::move(spec));
        if (!body) {
            co_return body.error();
        }
    }
    co_return Result<void>{};
}

boost::asio::awaitable<Result<void>> SlackWebApi::add_reaction(core::MessageRef ref,
                                                               std::string name) {
    Call spec;
    spec.method = "reactions.add";
    spec.accepted_error = "already_reacted";
    spec.args = {{"channel", ref.channel.value},
                 {"timestamp", ref.ts.value},
                 {"name", strip_colons(std::move(name))}};
    auto body = co_await call(std::move(spec));
    if (!body) {
        co_return body.error();
    }
    co_return Result<void>{};
}

boost::asio::awaitable<Result<std::vector<core::UserId>>> SlackWebApi::usergroup_members(
    core::UsergroupId group) {
    if (const auto it = groups_.find(group);
        it != groups_.end() && clock_.steady_now() < it->second.first) {
        co_return it->second.second;
    }
    Call spec;
    spec.method = "usergroups.users.list";
    spec.args = {{"usergroup", group.value}};
    auto body = co_await call(std::move(spec));
    if (!body) {
        co_return body.error();  // errors are not cached: the next decision asks again
    }
    const auto json = parse_object(*body);
    const auto users = json.find("users");
    if (users == json.end() || !users->is_array()) {
        co_return protocol_error("usergroups.users.list", "the answer has no users array");
    }
    std::vector<core::UserId> members;
    members.reserve(users->size());
    for (const auto& user : *users) {
        if (user.is_string() && !user.get_ref<const std::string&>().empty()) {
            members.emplace_back(user.get<std::string>());
        }
    }
    const auto now = clock_.steady_now();
    evict_expired(groups_, group, now);
    groups_[group] = {now + options_.usergroup_ttl, members};
    co_return members;
}

boost::asio::awaitable<Result<core::UserInfo>> SlackWebApi::user_info(core::UserId user) {
    if (const auto it = users_.find(user);
        it != users_.end() && clock_.steady_now() < it->second.first) {
        co_return it->second.second;
    }
    Call spec;
    spec.method = "users.info";
    spec.args = {{"user", user.value}};
    auto body = co_await call(std::move(spec));
    if (!body) {
        co_return body.error();
    }
    const auto json = parse_object(*body);
    const auto found = json.find("user");
    if (found == json.end() || !found->is_object()) {
        co_return protocol_error("users.info", "the answer has no user object");
    }
    const Json& object = *found;
    core::UserInfo info;
    info.id = core::UserId{text_field(object, "id")};
    if (info.id.empty()) {
        info.id = user;
    }
    info.is_bot = bool_field(object, "is_bot");
    info.deleted = bool_field(object, "deleted");
    info.name = text_field(object, "real_name");
    if (info.name.empty()) {
        const auto profile = object.find("profile");
        info.name = profile == object.end() ? std::string{} : text_field(*profile, "display_name");
    }
    if (info.name.empty()) {
        info.name = text_field(object, "name");
    }
    const auto now = clock_.steady_now();
    evict_expired(users_, user, now);
    users_[user] = {now + options_.user_ttl, info};
    co_return info;
}

boost::asio::awaitable<Result<void>> SlackWebApi::respond(core::Secret response_url,
                                                          core::Visibility visibility,
                                                          std::string text) {
    if (const auto problem = url_problem(response_url.reveal(), "https", "http")) {
        co_return Error{ErrorKind::Invalid, fmt::format("slack.response_url: {}", *problem)};
    }
    Json payload;
    payload["response_type"] =
        visibility == core::Visibility::InChannel ? "in_channel" : "ephemeral";
    payload["text"] = std::move(text);
    Call spec;
    spec.method = "response_url";
    spec.idempotent = false;  // each use counts (5 per command), and a repeat would show twice
    spec.response_url = std::move(response_url);
    // Invalid UTF-8 from a command's output must not throw here; U+FFFD is good enough.
    spec.json = payload.dump(-1, ' ', false, Json::error_handler_t::replace);
    auto body = co_await call(std::move(spec));
    if (!body) {
        co_return body.error();
    }
    co_return Result<void>{};
}

}  // namespace rollbot::slack
