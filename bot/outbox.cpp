#include "bot/outbox.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

namespace rollbot::core {

namespace asio = boost::asio;
using namespace std::chrono_literals;

Outbox::Outbox(asio::any_io_executor executor,
               ChatTransport& chat,
               StateStore& store,
               std::shared_ptr<spdlog::logger> log)
    : executor_(std::move(executor)), chat_(chat), store_(store), log_(std::move(log)) {}

std::chrono::milliseconds Outbox::retry_pause(int attempt) {
    constexpr std::chrono::milliseconds kFirst = 1s;
    constexpr std::chrono::milliseconds kMost = 60s;
    const int doublings = std::clamp(attempt - 1, 0, 6);
    return std::min(kMost, kFirst * (1 << doublings));
}

asio::awaitable<Result<MessageRef>> Outbox::post(OutboundMessage message, std::string key) {
    Ticket ticket = store(message, std::move(key));
    co_return co_await send(std::move(ticket));
}

Outbox::Ticket Outbox::store(const OutboundMessage& message, std::string key) {
    Ticket ticket;
    ticket.entry.kind = OutboxEntry::Kind::Post;
    ticket.entry.channel = message.channel;
    ticket.entry.thread_ts = message.thread_ts;
    ticket.entry.text = message.text;
    ticket.entry.key = std::move(key);
    auto seq = store_.outbox_add(ticket.entry);
    if (!seq) {
        log_->error("outbox.not_stored key={} error={}", ticket.entry.key, seq.error().message);
        return ticket;
    }
    ticket.entry.seq = *seq;
    ticket.stored = true;
    ++depth_;
    return ticket;
}

asio::awaitable<Result<MessageRef>> Outbox::send(Ticket ticket) {
    if (!ticket.stored) {
        // Not durable, but still worth one try: a report that cannot be stored must not also be
        // left unsent.
        OutboundMessage message{ticket.entry.channel, ticket.entry.thread_ts, ticket.entry.text};
        co_return co_await chat_.post(std::move(message));
    }
    if (pumping_) {  // older messages wait; keep the order
        log_->warn("outbox.queued key={} seq={} behind={}",
                   ticket.entry.key,
                   ticket.entry.seq,
                   depth_ - 1);
        co_return Error{ErrorKind::Unavailable, "queued behind undelivered messages"};
    }
    auto delivered = co_await deliver(ticket.entry);
    if (!delivered) {
        start_pump();
    }
    co_return delivered;
}

asio::awaitable<Result<MessageRef>> Outbox::deliver(OutboxEntry entry) {
    OutboundMessage message{entry.channel, entry.thread_ts, entry.text};
    auto posted = co_await chat_.post(std::move(message));
    if (!posted) {
        log_->warn("outbox.delivery_failed key={} seq={} attempt={} error={}",
                   entry.key,
                   entry.seq,
                   entry.attempts + 1,
                   posted.error().message);
        if (auto failed = store_.outbox_failed(entry.seq); !failed) {
            log_->error("outbox.not_stored seq={} error={}", entry.seq, failed.error().message);
        }
        co_return posted;
    }
    if (auto done = store_.outbox_delivered(entry.seq, posted->ts); !done) {
        log_->error("outbox.not_marked seq={} error={} (it may be posted again after a restart)",
                    entry.seq,
                    done.error().message);
    }
    depth_ = depth_ > 0 ? depth_ - 1 : 0;
    log_->debug("outbox.delivered key={} seq={} ts={}", entry.key, entry.seq, posted->ts);
    co_return posted;
}

void Outbox::start() {
    auto pending = store_.outbox_pending();
    if (!pending) {
        log_->error("outbox.unreadable error={}", pending.error().message);
        return;
    }
    depth_ = pending->size();
    if (!pending->empty()) {
        log_->info("outbox.resuming undelivered={}", pending->size());
        start_pump();
    }
}

void Outbox::start_pump() {
    if (pumping_) {
        return;
    }
    pumping_ = true;
    asio::co_spawn(executor_, pump(), [this](const std::exception_ptr& e) {
        pumping_ = false;
        if (e) {
            log_->error("task.failed name=outbox.pump");
        }
    });
}

asio::awaitable<void> Outbox::pump() {
    asio::steady_timer timer{executor_};
    int failures = 0;  // counted here too, so a store that cannot count never makes a hot loop
    for (;;) {
        auto pending = store_.outbox_pending();
        if (!pending) {
            log_->error("outbox.unreadable error={}", pending.error().message);
            co_return;
        }
        depth_ = pending->size();
        if (pending->empty()) {
            co_return;
        }
        const OutboxEntry entry = pending->front();
        const int attempts = std::max(entry.attempts, failures);
        if (attempts > 0) {
            timer.expires_after(retry_pause(attempts));
            co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
        }
        auto delivered = co_await deliver(entry);
        failures = delivered ? 0 : failures + 1;
        if (!delivered && delivered.error().retry_after) {
            timer.expires_after(*delivered.error().retry_after);
            co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
        }
    }
}

}  // namespace rollbot::core
