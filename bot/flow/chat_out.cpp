#include "bot/flow/chat_out.hpp"

namespace rollbot::core {

namespace asio = boost::asio;

ChatOut::ChatOut(ChatTransport& transport, std::shared_ptr<spdlog::logger> log)
    : transport_(transport), log_(std::move(log)) {}

asio::awaitable<void> ChatOut::reply(ReplyTarget to, std::string text) {
    auto r = co_await transport_.reply(std::move(to), Visibility::Ephemeral, std::move(text));
    if (!r) {
        log_->warn("chat.reply failed error={}", r.error().message);
    }
}

asio::awaitable<Result<MessageRef>> ChatOut::post(ChannelId channel,
                                                  std::optional<MessageTs> thread,
                                                  std::string text) {
    OutboundMessage message{std::move(channel), std::move(thread), std::move(text)};
    co_return co_await transport_.post(std::move(message));
}

asio::awaitable<void> ChatOut::update(MessageRef message, std::string text, std::string what) {
    auto r = co_await transport_.update(std::move(message), std::move(text));
    if (!r) {
        log_->warn("chat.update failed {}error={}", what, r.error().message);
    }
}

}  // namespace rollbot::core
