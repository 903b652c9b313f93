#include "bot/flow/outbox.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

namespace rollbot::core {

namespace asio = boost::asio;
using namespace std::chrono_literals;

Outbox::Outbox(TaskGroup& tasks,
               ChatTransport& chat,
               StateStore& store,
               const Clock& clock,
               std::shared_ptr<spdlog::logger> log)
    : tasks_(tasks),
      chat_(chat),
      store_(store),
      clock_(clock),
      log_(std::move(log)),
      retry_(tasks.executor(), clock),
      drained_(tasks.executor(), clock),
      sends_done_(tasks.executor(), asio::steady_timer::time_point::max()) {}

void Outbox::changed() {
    drained_.cancel();
}

asio::awaitable<bool> Outbox::drain(std::chrono::milliseconds within) {
    const auto deadline = clock_.steady_now() + within;
    hurry_ = true;
    retry_.cancel();  // a pump waiting out a long pause tries now
    while (depth_ > 0 && clock_.steady_now() < deadline) {
        if (sending_ == 0) {
            start_pump();  // no-op while it runs; a direct send that fails starts it too
        }
        drained_.expires_at(deadline);
        (void)co_await drained_.wait();
    }
    if (depth_ > 0) {
        log_->warn("outbox.not_drained undelivered={} (stored: delivered after the restart)",
                   depth_);
    }
    co_return depth_ == 0;
}

std::chrono::milliseconds Outbox::retry_pause(int attempt) {
    constexpr std::chrono::milliseconds kFirst = 1s;
    constexpr std::chrono::milliseconds kMost = 60s;
    const int doublings = std::clamp(attempt - 1, 0, 6);
    return std::min(kMost, kFirst * (1 << doublings));
}

asio::awaitable<Result<MessageRef>> Outbox::post(OutboundMessage message, std::string key) {
    Ticket ticket = co_await store(std::move(message), std::move(key));
    co_return co_await send(std::move(ticket));
}

asio::awaitable<Outbox::Ticket> Outbox::store(OutboundMessage message, std::string key) {
    Ticket ticket;
    ticket.entry.kind = OutboxEntry::Kind::Post;
    ticket.entry.channel = std::move(message.channel);
    ticket.entry.thread_ts = std::move(message.thread_ts);
    ticket.entry.text = std::move(message.text);
    ticket.entry.key = std::move(key);
    auto seq = co_await store_.outbox_add(ticket.entry);
    if (!seq) {
        log_->error("outbox.not_stored key={} error={}", ticket.entry.key, seq.error().message);
        co_return ticket;
    }
    ticket.entry.seq = *seq;
    ticket.stored = true;
    ++depth_;
    co_return ticket;
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
    ++sending_;  // the pump must not pick this entry up meanwhile: it would post it twice
    auto delivered = co_await deliver(ticket.entry);
    if (--sending_ == 0) {
        sends_done_.cancel();
    }
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
        if (posted.error().retry_after) {
            not_before_ = clock_.steady_now() + *posted.error().retry_after;
        }
        if (auto failed = co_await store_.outbox_failed(entry.seq); !failed) {
            log_->error("outbox.not_stored seq={} error={}", entry.seq, failed.error().message);
        }
        co_return posted;
    }
    if (auto done = co_await store_.outbox_delivered(entry.seq, posted->ts); !done) {
        unmarked_.insert(entry.seq);
        log_->error("outbox.not_marked seq={} error={} (it may be posted again after a restart)",
                    entry.seq,
                    done.error().message);
    }
    depth_ = depth_ > 0 ? depth_ - 1 : 0;
    changed();
    log_->debug("outbox.delivered key={} seq={} ts={}", entry.key, entry.seq, posted->ts);
    co_return posted;
}

asio::awaitable<void> Outbox::post_later(OutboundMessage message, std::string key) {
    const Ticket ticket = co_await store(std::move(message), std::move(key));
    if (!ticket.stored) {
        co_return;  // store() logged it
    }
    start_pump();
}

asio::awaitable<void> Outbox::start() {
    auto pending = co_await store_.outbox_pending();
    if (!pending) {
        log_->error("outbox.unreadable error={}", pending.error().message);
        co_return;
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
    tasks_.spawn("outbox.pump", pump(), TaskGroup::Kind::Background, [this](std::string_view) {
        pumping_ = false;
        changed();
    });
}

asio::awaitable<void> Outbox::pump() {
    int failures = 0;  // counted here too, so a store that cannot count never makes a hot loop
    for (;;) {
        // A direct send in flight holds an entry the store still lists as pending.
        while (sending_ > 0) {
            co_await sends_done_.async_wait(asio::as_tuple(asio::use_awaitable));
        }
        // pumping_ is cleared here, in the same step as the last look at the store: a message
        // stored after that look finds no pump running and is sent directly (clearing it in the
        // completion handler, which runs later, left a window where such a message was only
        // queued and then never sent; the SIGKILL fault test found it).
        auto pending = co_await store_.outbox_pending();
        if (!pending) {
            log_->error("outbox.unreadable error={}", pending.error().message);
            pumping_ = false;
            changed();
            co_return;
        }
        std::erase_if(*pending, [this](const OutboxEntry& e) { return unmarked_.contains(e.seq); });
        depth_ = pending->size();
        if (pending->empty()) {
            pumping_ = false;
            changed();
            co_return;
        }
        const OutboxEntry entry = pending->front();
        const int attempts = std::max(entry.attempts, failures);
        // Draining for shutdown: a short pause only, so the bound is spent trying.
        constexpr std::chrono::milliseconds kHurried{250};
        if (attempts > 0) {
            // Slack's Retry-After, also one a direct send met before this pump started.
            const auto paused = clock_.steady_now() + (hurry_ ? kHurried : retry_pause(attempts));
            retry_.expires_at(hurry_ ? paused : std::max(paused, not_before_));
            (void)co_await retry_.wait();
        }
        auto delivered = co_await deliver(entry);
        failures = delivered ? 0 : failures + 1;
    }
}

}  // namespace rollbot::core
