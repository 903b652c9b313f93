// FakeSlackServer's Web API methods: what Slack answers them, as far as rollbot can tell
// (slack-socket-mode.md §6.2), with the limits a chat-ops bot can run into.
#include "test/support/fake_slack_workspace.hpp"

#include <algorithm>

namespace rollbot::test::fake_slack {
namespace {

using nlohmann::json;

// Slack's limits that a chat-ops bot can run into (chat.postMessage / Block Kit docs).
constexpr std::size_t kMaxTextChars = 40000;
constexpr std::size_t kMaxBlocks = 50;
constexpr std::size_t kMaxBlockTextChars = 3000;

std::size_t utf8_chars(std::string_view text) {
    return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
        return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    }));
}

void collect_text(const json& value, std::string& out, std::size_t& longest) {
    if (value.is_object()) {
        for (const auto& [key, child] : value.items()) {
            if (key == "text" && child.is_string()) {
                const auto& text = child.get_ref<const std::string&>();
                longest = std::max(longest, utf8_chars(text));
                out += out.empty() ? text : "\n" + text;
            } else {
                collect_text(child, out, longest);
            }
        }
    } else if (value.is_array()) {
        for (const auto& child : value) {
            collect_text(child, out, longest);
        }
    }
}

}  // namespace

std::optional<std::string> block_text(const std::string& blocks) {
    if (blocks.empty()) {
        return std::string();
    }
    const json parsed = json::parse(blocks, nullptr, false);
    if (!parsed.is_array() || parsed.size() > kMaxBlocks) {
        return std::nullopt;
    }
    for (const auto& block : parsed) {
        if (!block.is_object() || !block.contains("type") || !block["type"].is_string()) {
            return std::nullopt;
        }
    }
    std::string text;
    std::size_t longest = 0;
    collect_text(parsed, text, longest);
    if (longest > kMaxBlockTextChars) {
        return std::nullopt;
    }
    return text;
}

namespace {

// A message's text and blocks, checked as Slack checks them for postMessage and update.
struct Body {
    std::string text;
    std::string blocks;
    std::string block_text;       // the blocks' text, flattened
    const char* error = nullptr;  // Slack's error name, or null
};

Body read_body(const FakeSlackCall& call) {
    Body body{call.param("text"), call.param("blocks"), {}, nullptr};
    if (body.text.empty() && body.blocks.empty()) {
        body.error = "no_text";
    } else if (utf8_chars(body.text) > kMaxTextChars) {
        body.error = "msg_too_long";
    } else if (auto flattened = block_text(body.blocks)) {
        body.block_text = std::move(*flattened);
    } else {
        body.error = "invalid_blocks";
    }
    return body;
}

}  // namespace

json Workspace::dispatch(const std::string& method, const FakeSlackCall& call) {
    if (method == "apps.connections.open") {
        return connections_open();
    }
    if (method == "auth.test") {
        return auth_test();
    }
    if (method == "chat.postMessage" || method == "chat.postEphemeral") {
        return post_message(call, method == "chat.postEphemeral");
    }
    if (method == "chat.update") {
        return update_message(call);
    }
    if (method == "reactions.add") {
        return add_reaction(call);
    }
    if (method == "usergroups.users.list") {
        return usergroup_users(call);
    }
    if (method == "users.info") {
        return user_info(call);
    }
    return conversation_info(call);
}

json Workspace::connections_open() {
    // Tickets are single-use: an SDK calls apps.connections.open before every connect.
    std::string ticket = random_uuid();
    std::string url = ws_base_ + "/link/?ticket=" + ticket + "&app_id=" + options_.app_id;
    tickets_.insert(std::move(ticket));
    return json{{"ok", true}, {"url", std::move(url)}};
}

json Workspace::auth_test() const {
    return json{{"ok", true},
                {"url", "https://" + options_.team_domain + ".slack.com/"},
                {"team", options_.team_domain},
                {"user", "rollbot"},
                {"team_id", options_.team_id},
                {"user_id", options_.bot_user_id},
                {"bot_id", options_.bot_id},
                {"is_enterprise_install", false}};
}

json Workspace::post_message(const FakeSlackCall& call, bool ephemeral) {
    std::string channel = call.param("channel");
    if (channel.starts_with("#")) {  // Slack also takes a channel name and answers with its ID
        for (const auto& [id, name] : channels_) {
            if ("#" + name == channel) {
                channel = id;
            }
        }
    }
    if (channel.empty() || (!channels_.empty() && !channels_.contains(channel))) {
        return slack_error("channel_not_found");
    }
    const auto body = read_body(call);
    if (body.error != nullptr) {
        return slack_error(body.error);
    }
    const auto& [text, blocks, in_blocks, error] = body;
    const auto user = call.param("user");
    if (ephemeral && (user.empty() || (!users_.empty() && !users_.contains(user)))) {
        return slack_error("user_not_in_channel");
    }
    const auto ts = next_ts();
    const auto thread_ts = call.param("thread_ts");
    records_.posts_.push_back(FakeSlackPost{call.method,
                                            channel,
                                            ts,
                                            thread_ts,
                                            ephemeral ? user : "",
                                            text,
                                            blocks,
                                            in_blocks,
                                            "",
                                            call.at});
    if (ephemeral) {
        return json{{"ok", true}, {"message_ts", ts}};
    }
    messages_[ts] = Message{channel, {}};
    json message{{"type", "message"},
                 {"text", text},
                 {"user", options_.bot_user_id},
                 {"bot_id", options_.bot_id},
                 {"app_id", options_.app_id},
                 {"team", options_.team_id},
                 {"ts", ts}};
    if (!thread_ts.empty()) {
        message["thread_ts"] = thread_ts;
    }
    if (!blocks.empty()) {
        message["blocks"] = json::parse(blocks, nullptr, false);
    }
    return json{{"ok", true}, {"channel", channel}, {"ts", ts}, {"message", std::move(message)}};
}

json Workspace::update_message(const FakeSlackCall& call) {
    const auto channel = call.param("channel");
    const auto ts = call.param("ts");
    if (channel.empty()) {
        return slack_error("channel_not_found");
    }
    const auto found = messages_.find(ts);
    if (found == messages_.end() || found->second.channel != channel) {
        return slack_error("message_not_found");
    }
    const auto body = read_body(call);
    if (body.error != nullptr) {
        return slack_error(body.error);
    }
    const auto& [text, blocks, in_blocks, error] = body;
    records_.updates_.push_back(
        FakeSlackPost{call.method, channel, ts, "", "", text, blocks, in_blocks, "", call.at});
    return json{{"ok", true},
                {"channel", channel},
                {"ts", ts},
                {"text", text},
                {"message",
                 {{"type", "message"},
                  {"text", text},
                  {"user", options_.bot_user_id},
                  {"bot_id", options_.bot_id},
                  {"ts", ts},
                  {"edited", {{"user", options_.bot_user_id}, {"ts", ts}}}}}};
}

json Workspace::add_reaction(const FakeSlackCall& call) {
    const auto channel = call.param("channel");
    const auto ts = call.param("timestamp");
    const auto name = call.param("name");
    if (channel.empty() || ts.empty()) {
        return slack_error("no_item_specified");
    }
    if (name.empty() || name.find(':') == 0 || name.find(' ') != std::string::npos) {
        return slack_error("invalid_name");
    }
    // Messages this workspace did not post (a user's) are taken on trust.
    if (const auto found = messages_.find(ts); found != messages_.end()) {
        if (found->second.channel != channel) {
            return slack_error("message_not_found");
        }
        if (!found->second.reactions.insert(name).second) {
            return slack_error("already_reacted");
        }
    }
    return json{{"ok", true}};
}

json Workspace::usergroup_users(const FakeSlackCall& call) const {
    const auto group = call.param("usergroup");
    if (group.empty()) {
        return slack_error("invalid_arguments");
    }
    const auto found = usergroups_.find(group);
    if (found == usergroups_.end()) {
        return slack_error("no_such_subteam");
    }
    return json{{"ok", true}, {"users", found->second}};
}

json Workspace::user_info(const FakeSlackCall& call) const {
    const auto found = users_.find(call.param("user"));
    if (found == users_.end()) {
        return slack_error("user_not_found");
    }
    const auto& user = found->second;
    const auto real_name = user.real_name.empty() ? user.name : user.real_name;
    return json{{"ok", true},
                {"user",
                 {{"id", user.id},
                  {"team_id", options_.team_id},
                  {"name", user.name},
                  {"deleted", user.deleted},
                  {"real_name", real_name},
                  {"tz", "Europe/London"},
                  {"tz_offset", 0},
                  {"is_bot", user.is_bot},
                  {"is_admin", false},
                  {"profile", {{"display_name", user.name}, {"real_name", real_name}}}}}};
}

json Workspace::conversation_info(const FakeSlackCall& call) const {
    const auto id = call.param("channel");
    const auto found = channels_.find(id);
    if (found == channels_.end()) {
        return slack_error("channel_not_found");
    }
    return json{{"ok", true},
                {"channel",
                 {{"id", id},
                  {"name", found->second},
                  {"is_channel", true},
                  {"is_group", false},
                  {"is_im", false},
                  {"is_private", false},
                  {"is_archived", false},
                  {"is_member", true}}}};
}

}  // namespace rollbot::test::fake_slack
