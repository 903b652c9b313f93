#pragma once

#include "bot/chat.hpp"
#include "bot/ports/chat_transport.hpp"
#include "bot/ports/clock.hpp"
#include "bot/ports/state_store.hpp"
#include "bot/task_group.hpp"
#include "bot/timer.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/logger.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <set>
#include <string>

namespace rollbot::core {

/// Messages that must not be lost (reports): stored before they are sent, delivered in order,
/// retried with a growing pause until the chat accepts them, also after a restart. A message
/// is marked delivered the moment the chat accepts it, so it is not posted again.
class Outbox {
public:
    Outbox(TaskGroup& tasks,
           ChatTransport& chat,
           StateStore& store,
           const Clock& clock,
           std::shared_ptr<spdlog::logger> log);

    /// A stored message, not yet handed to the chat.
    struct Ticket {
        OutboxEntry entry;
        bool stored = false;  // false: the store failed; send() still tries once
    };

    /// Stores and, when nothing is queued before it, delivers at once. An error means "not
    /// delivered yet": the message stays queued and is retried in the background.
    boost::asio::awaitable<Result<MessageRef>> post(OutboundMessage message, std::string key);
    /// The two halves of post(), for callers that record something between them (a run's end
    /// is written after its report is stored, so a restart never loses the report).
    [[nodiscard]] boost::asio::awaitable<Ticket> store(OutboundMessage message, std::string key);
    boost::asio::awaitable<Result<MessageRef>> send(Ticket ticket);
    /// Stores and leaves the delivery to the background pump (in order, retried): for
    /// messages nobody waits on.
    boost::asio::awaitable<void> post_later(OutboundMessage message, std::string key);
    /// Delivers what an earlier run of the daemon left undelivered (call once at start-up).
    boost::asio::awaitable<void> start();
    /// Shutdown: retries at once (no growing pause) and completes when every stored message
    /// is delivered or `within` has passed. True when nothing is left; what is left stays
    /// stored and goes out after the restart.
    boost::asio::awaitable<bool> drain(std::chrono::milliseconds within);
    /// Messages stored and not delivered yet.
    [[nodiscard]] std::size_t depth() const { return depth_; }

    /// Pause before retry n (1-based): 1 s, 2 s, 4 s … up to a minute.
    [[nodiscard]] static std::chrono::milliseconds retry_pause(int attempt);

private:
    void start_pump();
    boost::asio::awaitable<void> pump();
    boost::asio::awaitable<Result<MessageRef>> deliver(OutboxEntry entry);

    void changed();

    TaskGroup& tasks_;
    ChatTransport& chat_;
    StateStore& store_;
    const Clock& clock_;
    std::shared_ptr<spdlog::logger> log_;

    bool pumping_ = false;
    bool hurry_ = false;  // draining for shutdown: no pause between retries
    int sending_ = 0;     // direct deliveries in flight (send()), not yet marked delivered
    // A 429's Retry-After, from a direct send or the pump: no retry before it.
    std::chrono::steady_clock::time_point not_before_{};
    std::size_t depth_ = 0;
    // Delivered, but the store could not mark them: never posted again by this process (the
    // store still lists them; a restart may post them again).
    std::set<std::int64_t> unmarked_;
    Timer retry_;                           // the pump's pause between retries
    Timer drained_;                         // cancelled when the depth changes or the pump ends
    boost::asio::steady_timer sends_done_;  // never expires; cancelled when sending_ drops to 0
};

}  // namespace rollbot::core
