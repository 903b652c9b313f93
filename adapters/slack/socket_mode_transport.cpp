#include "adapters/slack/socket_mode_transport.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <random>

namespace rollbot::slack {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

std::function<double()> default_random() {
    auto engine = std::make_shared<std::mt19937_64>(std::random_device{}());
    return [engine] {
        return std::uniform_real_distribution<double>(0.0, 1.0)(*engine);
    };
}

}  // namespace

SlackSocketModeTransport::SlackSocketModeTransport(core::TaskGroup& tasks,
                                                   SlackWebApi& api,
                                                   SocketModeOptions options,
                                                   const core::Clock& clock,
                                                   std::shared_ptr<spdlog::logger> log,
                                                   std::function<double()> random)
    : tasks_(tasks),
      executor_(tasks.executor()),
      api_(api),
      options_(std::move(options)),
      clock_(clock),
      log_(std::move(log)),
      backoff_(options_.backoff_base,
               options_.backoff_cap,
               random ? std::move(random) : default_random()),
      seen_(options_.dedupe_window),
      wake_(executor_) {}

SlackSocketModeTransport::~SlackSocketModeTransport() {
    for (auto& [id, connection] : connections_) {
        connection.socket->abort();
    }
}

void SlackSocketModeTransport::wake() {
    wake_.cancel();
}

asio::awaitable<void> SlackSocketModeTransport::wait_until(Clock::time_point deadline) {
    wake_.expires_at(deadline);
    co_await wake_.async_wait(asio::as_tuple(asio::use_awaitable));
}

// Sleeps the whole delay unless stopped: other events must not cut a backoff short.
asio::awaitable<void> SlackSocketModeTransport::pause(std::chrono::milliseconds delay) {
    const auto until = Clock::now() + delay;
    while (!stopped_ && Clock::now() < until) {
        co_await wait_until(until);
    }
}

asio::awaitable<void> SlackSocketModeTransport::run(core::InboundSink& sink) {
    sink_ = &sink;
    bool started = false;
    while (!stopped_) {
        if (status_.fatal) {
            co_await wait_until(Clock::time_point::max());  // until stop(): /readyz says why
            continue;
        }
        const bool need = !live_;
        const bool refresh = live_ && refresh_wanted_;
        if (need || refresh) {
            ReconnectCause cause{ReconnectReason::Start, "start"};
            if (refresh) {
                cause = *refresh_wanted_;
            } else if (started) {
                cause = last_close_;
            }
            refresh_wanted_.reset();
            if (need && back_off_first_) {
                back_off_first_ = false;
                co_await pause(backoff_.next());
                continue;
            }
            if (co_await connect_once(cause)) {
                started = true;
                backoff_.reset();
                continue;
            }
            if (refresh && live_) {
                refresh_wanted_ = cause;  // the old link still works: try again after a pause
            }
            if (!stopped_ && !status_.fatal) {
                const auto delay = backoff_.next();
                log_->warn("slack.reconnect_wait attempt={} wait_ms={}",
                           backoff_.attempts(),
                           delay.count());
                co_await pause(delay);
            }
            continue;
        }
        co_await wait_until(refresh_at_.value_or(Clock::time_point::max()));
        if (refresh_at_ && Clock::now() >= *refresh_at_) {
            refresh_at_.reset();
            refresh_wanted_ = ReconnectCause{ReconnectReason::Lifetime, "connection lifetime"};
        }
    }
    co_await shut_down();
}

asio::awaitable<bool> SlackSocketModeTransport::connect_once(ReconnectCause cause) {
    if (!identity_) {
        auto auth = co_await api_.auth_test();
        if (!auth) {
            if (auth.error().kind == core::ErrorKind::Unauthorized) {
                fail(auth.error().message);
            } else {
                log_->warn("slack.auth_test failed error={}", auth.error().message);
            }
            co_return false;
        }
        identity_ = *auth;
        log_->info("slack.identity bot_user={} team={}", identity_->user_id, identity_->team_id);
    }
    auto url = co_await api_.open_connection();
    if (!url) {
        if (url.error().kind == core::ErrorKind::Unauthorized) {
            fail(url.error().message);
        } else {
            log_->warn("slack.open_connection failed error={}", url.error().message);
        }
        co_return false;
    }
    auto parsed = parse_websocket_url(url->reveal());
    if (!parsed) {
        log_->error("slack.open_connection bad_url error={}", parsed.error().message);
        co_return false;
    }
    const std::uint64_t id = ++next_id_;
    ConnectionHandlers handlers{
        [](std::uint64_t) {},
        [this](std::uint64_t cid, std::string_view frame) { on_text(cid, frame); },
        [this](std::uint64_t cid, std::size_t bytes) {
            log_->warn(
                "slack.frame_ignored connection={} why=\"binary frame, {} bytes\"", cid, bytes);
        },
        [this](std::uint64_t cid, CloseCause closed, std::string why) {
            on_closed(cid, closed, std::move(why));
        }};
    auto socket = make_socket_connection(
        tasks_, id, options_.connection, std::move(handlers), log_, parsed->tls);
    connections_[id] = Connection{socket, std::nullopt};
    if (cause.reason != ReconnectReason::Start) {
        ++status_.reconnects[cause.reason];
    }
    log_->info(
        "slack.connecting connection={} host={} reason=\"{}\"", id, parsed->host, cause.detail);
    socket->start(*url);
    const auto deadline =
        Clock::now() + options_.connection.connect_timeout + options_.hello_timeout;
    while (!stopped_ && Clock::now() < deadline) {
        auto it = connections_.find(id);
        if (it == connections_.end() || it->second.hello) {
            break;
        }
        co_await wait_until(deadline);
    }
    auto it = connections_.find(id);
    if (it == connections_.end() || !it->second.hello) {
        if (it != connections_.end()) {
            log_->warn("slack.connect_failed connection={} why=\"no hello in time\"", id);
            it->second.socket->abort();
        }
        co_return false;
    }
    // Make-before-break: the new link is live, so the old one can say goodbye properly.
    if (live_ && *live_ != id) {
        if (auto old = connections_.find(*live_); old != connections_.end()) {
            log_->info("slack.retiring connection={} replaced_by={}", *live_, id);
            old->second.socket->close();
        }
    }
    live_ = id;
    status_.live = true;
    const auto lifetime = it->second.hello->approximate_connection_time;
    refresh_at_.reset();
    if (lifetime > 2 * options_.refresh_margin) {
        refresh_at_ = Clock::now() + lifetime - options_.refresh_margin;
    }
    co_return true;
}

void SlackSocketModeTransport::on_text(std::uint64_t id, std::string_view frame) {
    auto it = connections_.find(id);
    if (it == connections_.end()) {
        return;  // a retired connection's late frame: its socket is gone from our books
    }
    Decoded decoded = decode_frame(frame);
    // Ack first: Slack's 3-second window is for us, not for whatever the command does next.
    if (decoded.envelope_id) {
        std::function<void()> written;
        if (metrics_ != nullptr) {
            written = [metrics = metrics_, arrived = std::chrono::steady_clock::now()] {
                const std::chrono::duration<double> took =
                    std::chrono::steady_clock::now() - arrived;
                metrics->observe("rollbot_slack_ack_seconds", {}, took.count());
            };
        }
        it->second.socket->send(encode_ack(*decoded.envelope_id), std::move(written));
    }
    if (auto* hello = std::get_if<Hello>(&decoded.body)) {
        on_hello(id, *hello);
    } else if (auto* disconnect = std::get_if<Disconnect>(&decoded.body)) {
        on_disconnect(id, *disconnect);
    } else if (auto* command = std::get_if<SlashCommandEnvelope>(&decoded.body)) {
        ++status_.envelopes["slash_commands"];
        if (!seen_.first_time("envelope:" + decoded.envelope_id->value, clock_.steady_now())) {
            ++status_.duplicates;
            return;
        }
        if (sink_ != nullptr) {
            sink_->on_inbound(command->command);
        }
    } else if (auto* event = std::get_if<EventEnvelope>(&decoded.body)) {
        ++status_.envelopes["events_api"];
        on_event(*event);
    } else if (auto* interactive = std::get_if<InteractiveEnvelope>(&decoded.body)) {
        ++status_.envelopes["interactive"];
        log_->info("slack.interactive_ignored type={}", interactive->payload_type);
    } else if (auto* ignored = std::get_if<Ignored>(&decoded.body)) {
        ++status_.envelopes["ignored"];
        log_->warn("slack.frame_ignored connection={} why=\"{}\" acked={}",
                   id,
                   ignored->why,
                   decoded.envelope_id.has_value());
    }
}

void SlackSocketModeTransport::on_hello(std::uint64_t id, const Hello& hello) {
    auto it = connections_.find(id);
    it->second.hello = hello;
    ++status_.hellos;
    status_.num_connections = hello.num_connections;
    log_->info("slack.connected connection={} num_connections={} approximate_connection_time={}s",
               id,
               hello.num_connections,
               hello.approximate_connection_time.count());
    if (hello.num_connections > 2) {
        // We hold at most two (during a refresh): more means ghosts or another replica.
        log_->warn("slack.ghost_connections num_connections={}", hello.num_connections);
    }
    wake();
}

void SlackSocketModeTransport::on_disconnect(std::uint64_t id, const Disconnect& disconnect) {
    log_->info(
        "slack.disconnect_requested connection={} reason={}", id, to_string(disconnect.reason));
    switch (disconnect.reason) {
        case DisconnectReason::LinkDisabled:
            fail("Socket Mode was switched off for this Slack app (link_disabled)");
            return;
        case DisconnectReason::TooManyWebsockets:
            // Over Slack's 10-socket cap: close first, then come back after a backoff.
            back_off_first_ = true;
            connections_.at(id).socket->close();
            return;
        case DisconnectReason::Warning:
        case DisconnectReason::RefreshRequested:
        case DisconnectReason::Unknown:
            if (live_ == id) {
                refresh_wanted_ = ReconnectCause{reconnect_reason(disconnect.reason),
                                                 std::string(to_string(disconnect.reason))};
                wake();
            }
            return;
    }
}

void SlackSocketModeTransport::on_event(const EventEnvelope& event) {
    if (event.retry_attempt > 0) {
        log_->info("slack.event_retry event_id={} attempt={} reason=\"{}\"",
                   event.event_id,
                   event.retry_attempt,
                   event.retry_reason);
    }
    if (!seen_.first_time("event:" + event.event_id, clock_.steady_now())) {
        ++status_.duplicates;
        return;
    }
    if (!event.reaction) {
        log_->debug("slack.event_ignored type={}", event.event_type);
        return;
    }
    if (identity_ && event.reaction->user == identity_->user_id) {
        return;  // the bot's own reactions never count
    }
    if (sink_ != nullptr) {
        sink_->on_inbound(*event.reaction);
    }
}

void SlackSocketModeTransport::on_closed(std::uint64_t id, CloseCause cause, std::string why) {
    auto it = connections_.find(id);
    if (it == connections_.end()) {
        return;
    }
    connections_.erase(it);
    if (live_ == id) {
        live_.reset();
        status_.live = false;
        refresh_at_.reset();
        last_close_ = ReconnectCause{reconnect_reason(cause), why};
        log_->warn("slack.disconnected connection={} why=\"{}\"", id, why);
    } else {
        log_->info("slack.closed connection={} why=\"{}\"", id, why);
    }
    wake();
}

void SlackSocketModeTransport::fail(std::string reason) {
    if (status_.fatal) {
        return;
    }
    status_.fatal = true;
    status_.live = false;
    status_.fatal_reason = std::move(reason);
    log_->error(
        "slack.fatal reason=\"{}\": rollbot has stopped reconnecting; fix the app or its "
        "tokens and restart it",
        status_.fatal_reason);
    for (auto& [id, connection] : connections_) {
        connection.socket->close();
    }
    wake();
}

void SlackSocketModeTransport::stop() {
    stopped_ = true;
    wake();
}

asio::awaitable<void> SlackSocketModeTransport::shut_down() {
    for (auto& [id, connection] : connections_) {
        connection.socket->close();
    }
    const auto deadline = Clock::now() + options_.connection.close_timeout;
    while (!connections_.empty() && Clock::now() < deadline) {
        co_await wait_until(deadline);
    }
    for (auto& [id, connection] : connections_) {
        connection.socket->abort();
    }
    live_.reset();
    status_.live = false;
}

asio::awaitable<core::Result<core::MessageRef>> SlackSocketModeTransport::post(
    core::OutboundMessage message) {
    co_return co_await api_.post_message(std::move(message));
}

asio::awaitable<core::Result<void>> SlackSocketModeTransport::update(core::MessageRef ref,
                                                                     std::string text) {
    co_return co_await api_.update_message(std::move(ref), std::move(text));
}

asio::awaitable<core::Result<void>> SlackSocketModeTransport::reply(core::ReplyTarget target,
                                                                    core::Visibility visibility,
                                                                    std::string text) {
    if (!target.response_url.empty()) {
        auto answered = co_await api_.respond(target.response_url, visibility, text);
        if (answered) {
            co_return answered;
        }
        log_->warn("slack.respond failed error={}; posting instead", answered.error().message);
    }
    if (visibility == core::Visibility::Ephemeral) {
        co_return co_await api_.post_ephemeral(target.channel, target.user, std::move(text));
    }
    core::OutboundMessage message{target.channel, std::nullopt, std::move(text)};
    auto posted = co_await api_.post_message(std::move(message));
    if (!posted) {
        co_return posted.error();
    }
    co_return core::Result<void>{};
}

asio::awaitable<core::Result<std::vector<core::UserId>>>
SlackSocketModeTransport::usergroup_members(core::UsergroupId group) {
    co_return co_await api_.usergroup_members(std::move(group));
}

asio::awaitable<core::Result<core::UserInfo>> SlackSocketModeTransport::user_info(
    core::UserId user) {
    co_return co_await api_.user_info(std::move(user));
}

}  // namespace rollbot::slack
