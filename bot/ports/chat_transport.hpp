#pragma once

#include "bot/chat.hpp"
#include "bot/ports/inbound_sink.hpp"
#include "bot/result.hpp"

#include <boost/asio/awaitable.hpp>

#include <string>

namespace rollbot::core {

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

}  // namespace rollbot::core
