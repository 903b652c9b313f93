#pragma once

#include "bot/ids.hpp"
#include "bot/secret.hpp"

#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace rollbot::core {

/// A message the bot posted: where it is, for edits, threads and reactions.
struct MessageRef {
    ChannelId channel;
    MessageTs ts;
    bool operator==(const MessageRef&) const = default;
};

/// Text in Slack mrkdwn; values from users are already escaped by the templates.
struct OutboundMessage {
    ChannelId channel;
    std::optional<MessageTs> thread_ts;  // reply in this thread
    std::string text;
    bool operator==(const OutboundMessage&) const = default;
};

/// Where the answer to a slash command goes. `response_url` is empty for the console.
struct ReplyTarget {
    ChannelId channel;
    UserId user;
    Secret response_url;
    bool operator==(const ReplyTarget&) const = default;
};

enum class Visibility { Ephemeral, InChannel };

/// `/rollback …` as typed by a user.
struct SlashCommand {
    UserId user;
    std::string user_name;
    ChannelId channel;
    std::string command;  // "/rollback"
    std::string text;     // everything after the command
    ReplyTarget reply;
    bool operator==(const SlashCommand&) const = default;
};

/// `reaction_added` / `reaction_removed` on a message.
struct ReactionEvent {
    bool added = true;
    UserId user;
    std::string reaction;  // without colons; may carry a skin tone suffix
    MessageRef item;
    std::string event_id;  // for de-duplication
    bool operator==(const ReactionEvent&) const = default;
};

using Inbound = std::variant<SlashCommand, ReactionEvent>;

/// A user as the chat platform knows them.
struct UserInfo {
    UserId id;
    std::string name;
    bool is_bot = false;
    bool deleted = false;
    bool operator==(const UserInfo&) const = default;
};

}  // namespace rollbot::core
