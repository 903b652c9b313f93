#include "adapters/console/console_transport.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/chrono.h>
#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <set>
#include <sstream>
#include <unistd.h>
#include <vector>

namespace rollbot::console {
namespace {

namespace asio = boost::asio;
using core::ErrorKind;

std::string trim(std::string_view s) {
    const auto b = s.find_first_not_of(" \t\r");
    if (b == std::string_view::npos) {
        return {};
    }
    return std::string(s.substr(b, s.find_last_not_of(" \t\r") - b + 1));
}

std::vector<std::string> split_lines(std::string_view text) {
    std::vector<std::string> lines;
    std::istringstream in{std::string(text)};
    for (std::string line; std::getline(in, line);) {
        lines.push_back(line);
    }
    return lines;
}

constexpr std::string_view kHelp =
    "console commands:\n"
    "  /rollback …      a slash command from you in the current channel\n"
    "  /as <U…>         act as another user (e.g. /as U0BOB)\n"
    "  /in <C…>         type in another channel\n"
    "  +emoji / -emoji  add / remove a reaction on the bot's latest message\n"
    "  /wait            wait until rollbot has finished what it is doing\n"
    "  # text           a comment, printed as is\n"
    "  Ctrl-D           leave (after running work finishes)";

// "1700000000.000100": ten digits, a dot, six digits (what next_ts makes, and Slack).
bool is_message_ts(std::string_view ts) {
    return ts.size() == 17 && ts[10] == '.' &&
           std::all_of(ts.begin(), ts.begin() + 10, [](char c) { return c >= '0' && c <= '9'; }) &&
           std::all_of(ts.begin() + 11, ts.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

ConsoleLine parse_console_line(std::string_view raw) {
    const std::string line = trim(raw);
    using Kind = ConsoleLine::Kind;
    if (line.empty()) {
        return {Kind::Empty, {}};
    }
    if (line.front() == '#') {
        return {Kind::Narration, line};
    }
    if (line.front() == '+' || line.front() == '-') {
        std::string emoji = trim(line.substr(1));
        if (emoji.size() > 2 && emoji.front() == ':' && emoji.back() == ':') {
            emoji = emoji.substr(1, emoji.size() - 2);
        }
        return {line.front() == '+' ? Kind::React : Kind::Unreact, emoji};
    }
    const auto space = line.find(' ');
    const std::string word = line.substr(0, space);
    const std::string rest = space == std::string::npos ? std::string{} : trim(line.substr(space));
    if (word == "/rollback") {
        return {Kind::Command, rest};
    }
    if (word == "/as") {
        return {Kind::As, rest};
    }
    if (word == "/in") {
        return {Kind::In, rest};
    }
    if (word == "/wait") {
        return {Kind::Wait, {}};
    }
    if (word == "/help" || word == "/?") {
        return {Kind::Help, {}};
    }
    return {Kind::Unknown, line};
}

std::string render_for_terminal(std::string_view text, const core::ConsoleSettings& console) {
    std::string out;
    std::size_t i = 0;
    while (i < text.size()) {
        if (text[i] == '<') {
            const auto close = text.find('>', i);
            if (close != std::string_view::npos) {
                const auto inner = text.substr(i + 1, close - i - 1);
                const auto id = std::string(inner.substr(1, inner.find('|') - 1));
                if (inner.starts_with('@')) {
                    auto it = console.users.find(core::UserId{id});
                    out += "@" + (it == console.users.end() ? id : it->second);
                } else if (inner.starts_with('#')) {
                    out += "#" + id;
                } else {
                    out += std::string(inner);
                }
                i = close + 1;
                continue;
            }
        }
        if (text[i] == '&') {
            bool replaced = false;
            for (auto [entity, ch] : {std::pair{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}}) {
                if (text.substr(i).starts_with(entity)) {
                    out += ch;
                    i += std::string_view(entity).size();
                    replaced = true;
                    break;
                }
            }
            if (replaced) {
                continue;
            }
        }
        out += text[i++];
    }
    return out;
}

ConsoleTransport::ConsoleTransport(asio::any_io_executor executor,
                                   core::ConsoleSettings console,
                                   core::ChannelId incidents_channel,
                                   int input_fd,
                                   int output_fd,
                                   const core::Clock& clock,
                                   std::shared_ptr<spdlog::logger> log)
    : executor_(std::move(executor)),
      console_(std::move(console)),
      channel_(std::move(incidents_channel)),
      user_(console_.user),
      input_fd_(input_fd),
      output_fd_(output_fd),
      interactive_(::isatty(input_fd) == 1),
      clock_(clock),
      log_(std::move(log)) {}

asio::awaitable<void> ConsoleTransport::run(core::InboundSink& sink) {
    write_out(
        fmt::format("rollbot console: you are {} ({}) in #{}. Type /help for console "
                    "commands, /rollback help for the bot.\n",
                    name_of(user_),
                    user_,
                    channel_));
    const int fd = ::dup(input_fd_);
    boost::system::error_code ec;
    input_.emplace(executor_);
    input_->assign(fd, ec);
    if (ec) {
        // Regular files cannot be watched by epoll: read them with plain blocking reads.
        input_.reset();
        ::close(fd);
    }
    co_await read_lines(sink);
    // Input ended: let running rollbacks finish and report before the daemon stops.
    co_await sink.wait_idle();
}

asio::awaitable<void> ConsoleTransport::read_lines(core::InboundSink& sink) {
    std::string buffer;
    bool eof = false;
    while (!stopped_ && !eof) {
        std::size_t n = 0;
        if (input_) {
            auto [ec, got] = co_await asio::async_read_until(
                *input_, asio::dynamic_buffer(buffer), '\n', asio::as_tuple(asio::use_awaitable));
            n = got;
            eof = static_cast<bool>(ec);
        } else {
            char chunk[4096];
            const auto r = ::read(input_fd_, chunk, sizeof chunk);
            if (r > 0) {
                buffer.append(chunk, static_cast<std::size_t>(r));
            }
            eof = r <= 0 && errno != EINTR;
            const auto nl = buffer.find('\n');
            n = nl == std::string::npos ? 0 : nl + 1;
        }
        if (n == 0 && eof && !buffer.empty()) {
            n = buffer.size();  // last line without a newline
        }
        while (n > 0) {
            std::string line = buffer.substr(0, n);
            buffer.erase(0, n);
            if (!line.empty() && line.back() == '\n') {
                line.pop_back();
            }
            co_await handle_line(std::move(line), sink);
            const auto nl = buffer.find('\n');
            n = nl == std::string::npos ? (eof ? buffer.size() : 0) : nl + 1;
        }
    }
}

asio::awaitable<void> ConsoleTransport::handle_line(std::string line, core::InboundSink& sink) {
    const ConsoleLine parsed = parse_console_line(line);
    using Kind = ConsoleLine::Kind;
    if (!interactive_ && parsed.kind != Kind::Empty && parsed.kind != Kind::Narration) {
        write_out(fmt::format("{}> {}\n", name_of(user_), line));
    }
    switch (parsed.kind) {
        case Kind::Command:
            sink.on_inbound(core::SlashCommand{user_,
                                               name_of(user_),
                                               channel_,
                                               "/rollback",
                                               parsed.argument,
                                               core::ReplyTarget{channel_, user_, core::Secret{}}});
            break;
        case Kind::As:
            if (!core::is_user_id(parsed.argument)) {
                write_out("(console) /as needs a user id like U0BOB\n");
                break;
            }
            user_ = core::UserId{parsed.argument};
            write_out(fmt::format("(console) you are now {} ({})\n", name_of(user_), user_));
            break;
        case Kind::In:
            if (!core::is_channel_id(parsed.argument)) {
                write_out("(console) /in needs a channel id like C0RANDOM\n");
                break;
            }
            channel_ = core::ChannelId{parsed.argument};
            write_out(fmt::format("(console) you are now typing in #{}\n", channel_));
            break;
        case Kind::React:
        case Kind::Unreact:
            react(parsed.kind == Kind::React, parsed.argument, sink);
            break;
        case Kind::Wait:
            co_await sink.wait_idle();
            break;
        case Kind::Help:
            write_out(std::string(kHelp) + "\n");
            break;
        case Kind::Narration:
            write_out("\n" + parsed.argument + "\n");
            break;
        case Kind::Empty:
            break;
        case Kind::Unknown:
            write_out(
                "(console) rollbot only listens to /rollback here; /help lists the "
                "console commands\n");
            break;
    }
}

void ConsoleTransport::react(bool added, const std::string& emoji, core::InboundSink& sink) {
    if (!latest_ || emoji.empty()) {
        write_out("(console) nothing to react to yet\n");
        return;
    }
    const auto& target = messages_.at(*latest_);
    write_out(fmt::format("(console) {} {} :{}: on \"{}\"\n",
                          name_of(user_),
                          added ? "reacted with" : "removed",
                          emoji,
                          label_of(*latest_)));
    sink.on_inbound(core::ReactionEvent{added,
                                        user_,
                                        emoji,
                                        core::MessageRef{target.channel, *latest_},
                                        fmt::format("Ev{:08}", ++event_counter_)});
}

asio::awaitable<core::Result<core::MessageRef>> ConsoleTransport::post(
    core::OutboundMessage message) {
    const core::MessageTs ts = next_ts();
    if (message.thread_ts) {
        print(
            fmt::format("[{}] rollbot → thread \"{}\"", clock_text(), label_of(*message.thread_ts)),
            message.text,
            "    ");
    } else {
        print(fmt::format("[{}] rollbot → #{}", clock_text(), message.channel), message.text, "  ");
        latest_ = ts;
    }
    messages_[ts] = Message{message.channel, message.thread_ts, message.text};
    co_return core::MessageRef{message.channel, ts};
}

asio::awaitable<core::Result<void>> ConsoleTransport::update(core::MessageRef ref,
                                                             std::string text) {
    auto it = messages_.find(ref.ts);
    if (it == messages_.end()) {
        // A message from before a restart (a restored approval card): show it again whole, and
        // make it the one `+emoji` reacts to, as it is in Slack's scrollback.
        if (!is_message_ts(ref.ts.value) || ref.ts > next_ts()) {
            co_return core::Error{ErrorKind::NotFound, "console.update: message_not_found"};
        }
        print(fmt::format("[{}] rollbot edited an earlier message", clock_text()), text, "  ~ ");
        messages_[ref.ts] = Message{ref.channel, std::nullopt, std::move(text)};
        latest_ = ref.ts;
        co_return core::Result<void>{};
    }
    const auto old_lines = split_lines(it->second.text);
    const std::set<std::string> before(old_lines.begin(), old_lines.end());
    std::string changed;
    for (const auto& line : split_lines(text)) {
        if (!before.contains(line)) {
            changed += line + "\n";
        }
    }
    it->second.text = std::move(text);
    if (!changed.empty()) {
        print(fmt::format("[{}] rollbot edited \"{}\"", clock_text(), label_of(ref.ts)),
              changed,
              "  ~ ");
    }
    co_return core::Result<void>{};
}

asio::awaitable<core::Result<void>> ConsoleTransport::reply(core::ReplyTarget target,
                                                            core::Visibility visibility,
                                                            std::string text) {
    if (visibility == core::Visibility::InChannel) {
        core::OutboundMessage message{target.channel, std::nullopt, std::move(text)};
        auto posted = co_await post(std::move(message));
        if (!posted) {
            co_return posted.error();
        }
        co_return core::Result<void>{};
    }
    print(fmt::format("[{}] rollbot → only {} can see this", clock_text(), name_of(target.user)),
          text,
          "  ");
    co_return core::Result<void>{};
}

void ConsoleTransport::stop() {
    stopped_ = true;
    if (input_) {
        boost::system::error_code ignored;
        input_->cancel(ignored);
    }
}

asio::awaitable<core::Result<std::vector<core::UserId>>> ConsoleTransport::usergroup_members(
    core::UsergroupId group) {
    auto it = console_.usergroups.find(group);
    if (it == console_.usergroups.end()) {
        co_return core::Error{ErrorKind::NotFound,
                              fmt::format("console.usergroups has no {} (no_such_subteam)", group)};
    }
    co_return it->second;
}

asio::awaitable<core::Result<core::UserInfo>> ConsoleTransport::user_info(core::UserId user) {
    const bool bot =
        std::find(console_.bots.begin(), console_.bots.end(), user) != console_.bots.end();
    co_return core::UserInfo{user, name_of(user), bot, false};
}

void ConsoleTransport::print(std::string_view header,
                             std::string_view body,
                             std::string_view indent) {
    std::string out = std::string(header) + "\n";
    for (const auto& line : split_lines(render_for_terminal(body, console_))) {
        out += std::string(indent) + line + "\n";
    }
    write_out(out);
}

void ConsoleTransport::write_out(std::string_view text) {
    while (!text.empty()) {
        const auto n = ::write(output_fd_, text.data(), text.size());
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            log_->warn("console.write failed errno={}", errno);
            return;
        }
        text.remove_prefix(static_cast<std::size_t>(n));
    }
}

std::string ConsoleTransport::name_of(const core::UserId& user) const {
    auto it = console_.users.find(user);
    return it == console_.users.end() ? user.value : it->second;
}

std::string ConsoleTransport::label_of(const core::MessageTs& ts) const {
    auto it = messages_.find(ts);
    if (it == messages_.end()) {
        return ts.value;
    }
    std::string first =
        render_for_terminal(it->second.text.substr(0, it->second.text.find('\n')), console_);
    constexpr std::size_t kMax = 60;
    if (first.size() > kMax) {
        std::size_t cut = kMax;
        while (cut > 0 && (static_cast<unsigned char>(first[cut]) & 0xC0U) == 0x80U) {
            --cut;
        }
        first = first.substr(0, cut) + "…";
    }
    return first;
}

std::string ConsoleTransport::clock_text() const {
    return fmt::format("{:%H:%M:%S}",
                       fmt::localtime(std::chrono::system_clock::to_time_t(clock_.now())));
}

// Slack's shape, seconds.microseconds from the wall clock, strictly increasing: unique across
// restarts too, so a card restored after a restart is never confused with a new message.
core::MessageTs ConsoleTransport::next_ts() {
    const std::int64_t now_us =
        std::chrono::duration_cast<std::chrono::microseconds>(clock_.now().time_since_epoch())
            .count();
    ts_counter_ = std::max<std::int64_t>(now_us, ts_counter_ + 1);
    return core::MessageTs{fmt::format("{}.{:06}", ts_counter_ / 1000000, ts_counter_ % 1000000)};
}

}  // namespace rollbot::console
