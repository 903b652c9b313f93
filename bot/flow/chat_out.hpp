#pragma once

#include "bot/chat.hpp"
#include "bot/ports/chat_transport.hpp"
#include "bot/result.hpp"

#include <boost/asio/awaitable.hpp>
#include <spdlog/logger.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace rollbot::core {

/// The chat as the flow parts write to it, directly (not through the outbox): answers to one
/// person and card edits whose failure is logged and otherwise changes nothing, and posts that
/// say where they landed. Builds each message from its parts here, because a braced temporary
/// as a coroutine argument inside co_await is miscompiled by GCC 12
/// (deploy/lint/coroutine_args.py).
class ChatOut {
public:
    ChatOut(ChatTransport& transport, std::shared_ptr<spdlog::logger> log);

    /// An ephemeral answer to the person at `to`.
    boost::asio::awaitable<void> reply(ReplyTarget to, std::string text);
    boost::asio::awaitable<Result<MessageRef>> post(ChannelId channel,
                                                    std::optional<MessageTs> thread,
                                                    std::string text);
    /// Replaces a message's text; `what` names it in the log line when that fails.
    boost::asio::awaitable<void> update(MessageRef message, std::string text, std::string what);

private:
    ChatTransport& transport_;
    std::shared_ptr<spdlog::logger> log_;
};

}  // namespace rollbot::core
