#pragma once

#include "bot/ids.hpp"
#include "bot/result.hpp"
#include "bot/secret.hpp"

#include <boost/asio/awaitable.hpp>

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

/// Receives what users do. Called on the io_context thread; must return quickly.
class InboundSink {
public:
    virtual ~InboundSink() = default;
    /// Takes one decoded inbound event; work is started, not awaited.
    virtual void on_inbound(Inbound event) = 0;
    /// Completes once no command is being handled (used by scripted console sessions, shutdown).
    virtual boost::asio::awaitable<void> wait_idle() = 0;
};

/// A chat platform: Slack Socket Mode in production, stdin/stdout locally.
class ChatTransport {
public:
    virtual ~ChatTransport() = default;
    /// Delivers inbound events to `sink` until stop() is called or input ends.
    virtual boost::asio::awaitable<void> run(InboundSink& sink) = 0;
    /// Posts a message (top level or in a thread) and returns where it landed.
    virtual boost::asio::awaitable<Result<MessageRef>> post(OutboundMessage message) = 0;
    /// Replaces the text of a message the bot posted earlier.
    virtual boost::asio::awaitable<Result<void>> update(MessageRef ref, std::string text) = 0;
    /// Answers a slash command: ephemeral (only the invoker sees it) or in the channel.
    virtual boost::asio::awaitable<Result<void>> reply(ReplyTarget target,
                                                       Visibility visibility,
                                                       std::string text) = 0;
    /// Ends run(); safe to call more than once.
    virtual void stop() = 0;
};

/// A user as the chat platform knows them.
struct UserInfo {
    UserId id;
    std::string name;
    bool is_bot = false;
    bool deleted = false;
    bool operator==(const UserInfo&) const = default;
};

/// Who is who: usergroup membership and user flags, looked up when a decision needs them.
class UserDirectory {
public:
    virtual ~UserDirectory() = default;
    /// Members of a usergroup now (cached briefly by the implementation).
    virtual boost::asio::awaitable<Result<std::vector<UserId>>> usergroup_members(
        UsergroupId group) = 0;
    /// Name and flags of a user.
    virtual boost::asio::awaitable<Result<UserInfo>> user_info(UserId user) = 0;
};

}  // namespace rollbot::core
