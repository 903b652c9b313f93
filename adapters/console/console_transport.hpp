#pragma once

#include "bot/chat.hpp"
#include "bot/ports/chat_transport.hpp"
#include "bot/ports/clock.hpp"
#include "bot/ports/user_directory.hpp"
#include "bot/settings.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <spdlog/logger.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace rollbot::console {

/// What one typed line asks for.
struct ConsoleLine {
    enum class Kind { Command, As, In, React, Unreact, Wait, Help, Narration, Empty, Unknown };
    Kind kind = Kind::Empty;
    std::string argument;  // command text, user id, channel id, emoji, narration
    bool operator==(const ConsoleLine&) const = default;
};

/// `/rollback …`, `/as U…`, `/in C…`, `+emoji`, `-emoji`, `/wait`, `/help`, `# text`.
[[nodiscard]] ConsoleLine parse_console_line(std::string_view raw);

/// Slack mrkdwn for a terminal: `<@U…>` → `@name`, `<#C…>` → `#C…`, entities unescaped.
[[nodiscard]] std::string render_for_terminal(std::string_view text,
                                              const core::ConsoleSettings& console);

/// Chat through stdin/stdout with Slack-shaped ids (U…, C…, message ts), so access and
/// approval code runs the same path as in production. Also the user directory for approvals.
class ConsoleTransport final : public core::ChatTransport, public core::UserDirectory {
public:
    ConsoleTransport(boost::asio::any_io_executor executor,
                     core::ConsoleSettings console,
                     core::ChannelId incidents_channel,
                     int input_fd,
                     int output_fd,
                     const core::Clock& clock,
                     std::shared_ptr<spdlog::logger> log);

    boost::asio::awaitable<void> run(core::InboundSink& sink) override;
    boost::asio::awaitable<core::Result<core::MessageRef>> post(
        core::OutboundMessage message) override;
    boost::asio::awaitable<core::Result<void>> update(core::MessageRef ref,
                                                      std::string text) override;
    boost::asio::awaitable<core::Result<void>> reply(core::ReplyTarget target,
                                                     core::Visibility visibility,
                                                     std::string text) override;
    void stop() override;

    boost::asio::awaitable<core::Result<std::vector<core::UserId>>> usergroup_members(
        core::UsergroupId group) override;
    boost::asio::awaitable<core::Result<core::UserInfo>> user_info(core::UserId user) override;

private:
    struct Message {
        core::ChannelId channel;
        std::optional<core::MessageTs> thread;
        std::string text;
    };

    boost::asio::awaitable<void> read_lines(core::InboundSink& sink);
    boost::asio::awaitable<void> handle_line(std::string line, core::InboundSink& sink);
    void react(bool added, const std::string& emoji, core::InboundSink& sink);
    void print(std::string_view header, std::string_view body, std::string_view indent);
    void write_out(std::string_view text);
    [[nodiscard]] std::string name_of(const core::UserId& user) const;
    [[nodiscard]] std::string label_of(const core::MessageTs& ts) const;
    [[nodiscard]] std::string clock_text() const;
    core::MessageTs next_ts();

    boost::asio::any_io_executor executor_;
    core::ConsoleSettings console_;
    core::ChannelId channel_;
    core::UserId user_;
    int input_fd_;
    int output_fd_;
    bool interactive_;
    const core::Clock& clock_;
    std::shared_ptr<spdlog::logger> log_;
    std::optional<boost::asio::posix::stream_descriptor> input_;
    std::map<core::MessageTs, Message> messages_;
    std::optional<core::MessageTs> latest_;  // latest top-level bot message: `+emoji` target
    std::int64_t ts_counter_ = 0;            // the last ts handed out, in microseconds
    std::uint64_t event_counter_ = 0;
    bool stopped_ = false;
};

}  // namespace rollbot::console
