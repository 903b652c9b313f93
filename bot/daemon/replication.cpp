#include "bot/daemon/replication.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include <algorithm>

namespace rollbot::daemon {

namespace asio = boost::asio;
using core::Result;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr auto kNothrow = asio::as_tuple(asio::use_awaitable);
// A standby asks for the lease this often: a leader that died is replaced within about this
// (its connection closes with it), well inside the 3 s the runbook's users expect.
constexpr std::chrono::milliseconds kStandbyPoll{1000};
// Retries after a failed connect, migration or renewal.
constexpr std::chrono::milliseconds kRetry{1000};

// The store's statements and the lease's renewals each get a deadline well inside the lease, so
// a database that stopped answering is noticed while the leader still trusts its lease.
store::pg::Options connection_options(const core::StateSettings& s) {
    store::pg::Options o;
    o.connect_timeout =
        std::max(std::chrono::milliseconds(1000),
                 std::chrono::duration_cast<std::chrono::milliseconds>(s.lease / 3));
    o.query_timeout = std::max(std::chrono::milliseconds(1000),
                               std::chrono::duration_cast<std::chrono::milliseconds>(s.lease / 5));
    return o;
}

core::Error not_leader(std::string_view op) {
    return core::make_error(
        core::ErrorKind::Unavailable,
        fmt::format("{}: this replica is not the leader: left for the leader", op));
}

}  // namespace

std::string_view to_string(Role role) {
    switch (role) {
        case Role::Connecting:
            return "connecting";
        case Role::Standby:
            return "standby";
        case Role::Leader:
            return "leader";
        case Role::Deposed:
            return "deposed";
    }
    return "unknown";
}

Replication::Replication(const asio::any_io_executor& executor,
                         const core::StateSettings& settings,
                         std::string holder,
                         std::shared_ptr<spdlog::logger> log)
    : store_(executor, settings.url.reveal(), connection_options(settings)),
      lease_db_(executor, settings.url.reveal(), connection_options(settings)),
      lease_(lease_db_,
             std::move(holder),
             store::LeaseTiming{
                 std::chrono::duration_cast<std::chrono::milliseconds>(settings.lease)}),
      log_(std::move(log)),
      timer_(executor),
      watchdog_timer_(executor) {}

bool Replication::may_act() const {
    return status_.role == Role::Leader && SteadyClock::now() < lease_.trusted_until();
}

void Replication::stop() {
    stopping_ = true;
    timer_.cancel();
    watchdog_timer_.cancel();
}

asio::awaitable<bool> Replication::pause(SteadyClock::time_point until) {
    timer_.expires_at(until);
    co_await timer_.async_wait(kNothrow);
    co_return stopping_;
}

asio::awaitable<void> Replication::run(std::function<void(std::int64_t)> on_leader,
                                       std::function<void(std::string)> on_lost) {
    for (;;) {
        auto ready = co_await store_.prepare();
        if (ready) {
            break;
        }
        status_.problem = ready.error().message;
        log_->error(
            "replication.database_unreachable error=\"{}\" (not ready, not on Slack; "
            "retrying)",
            status_.problem);
        if (co_await pause(SteadyClock::now() + kRetry)) {
            co_return;
        }
    }
    status_.problem.clear();
    status_.role = Role::Standby;
    log_->info("replication.standby holder={}: waiting for the lease", lease_.holder());
    std::int64_t term = 0;
    while (term == 0) {
        auto got = co_await lease_.try_acquire();
        if (got && *got) {
            term = **got;
            break;
        }
        status_.problem = got ? std::string{} : got.error().message;
        if (!got) {
            log_->warn("replication.lease_unreadable error=\"{}\"", status_.problem);
        } else {
            log_->debug("replication.lease_held_elsewhere next_try_ms={}", kStandbyPoll.count());
        }
        if (co_await pause(SteadyClock::now() + kStandbyPoll)) {
            co_return;
        }
    }
    store_.fence(term);
    status_.role = Role::Leader;
    status_.term = term;
    status_.problem.clear();
    ++status_.takeovers;
    log_->info("replication.leader holder={} term={} lease_ms={}",
               lease_.holder(),
               term,
               lease_.timing().lease.count());
    on_lost_ = std::move(on_lost);
    arm_watchdog();
    on_leader(term);
    co_await renew_loop();
}

void Replication::lose(std::string why) {
    if (stopping_ || status_.role != Role::Leader) {
        return;
    }
    status_.role = Role::Deposed;
    const auto term = status_.term;
    lease_.forget();
    timer_.cancel();
    watchdog_timer_.cancel();
    log_->critical("replication.lost term={} why=\"{}\"", term, why);
    if (on_lost_) {
        on_lost_(std::move(why));
    }
}

// Fires when the last renewal stops vouching for this replica, however long a renewal hangs:
// a plain timer, so nothing this replica is waiting on can delay it.
void Replication::arm_watchdog() {
    watchdog_timer_.expires_at(lease_.trusted_until());
    watchdog_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (ec == asio::error::operation_aborted || status_.role != Role::Leader) {
            return;
        }
        if (SteadyClock::now() < lease_.trusted_until()) {
            arm_watchdog();
            return;
        }
        lose(fmt::format(
            "the lease was not renewed within {} ms (the database did not answer, or this process "
            "was frozen)",
            (lease_.timing().lease - lease_.timing().margin()).count()));
    });
}

asio::awaitable<void> Replication::renew_loop() {
    auto next = SteadyClock::now() + lease_.timing().renew_every();
    while (status_.role == Role::Leader) {
        if (co_await pause(next) || status_.role != Role::Leader) {
            co_return;
        }
        auto renewed = co_await lease_.renew();
        if (status_.role != Role::Leader) {
            co_return;  // the watchdog fired while the renewal was on its way
        }
        if (renewed) {
            ++status_.renewals;
            arm_watchdog();
            next = SteadyClock::now() + lease_.timing().renew_every();
            continue;
        }
        ++status_.renewal_failures;
        if (renewed.error().kind == core::ErrorKind::Conflict) {
            lose(renewed.error().message);  // another replica holds the lease now
            co_return;
        }
        // A broken connection (the database restarted) is reconnected by the next try. A
        // standby may take the lease meanwhile (the row names a server process that is gone):
        // that is safe, every action of this replica is fenced by the term, and the next
        // renewal here is then refused.
        log_->warn("replication.renewal_failed error=\"{}\" trusted_for_ms={}",
                   renewed.error().message,
                   std::chrono::duration_cast<std::chrono::milliseconds>(lease_.trusted_until() -
                                                                         SteadyClock::now())
                       .count());
        next = SteadyClock::now() + kRetry;
    }
}

asio::awaitable<void> Replication::release() {
    if (status_.role != Role::Leader) {
        co_return;
    }
    status_.role = Role::Standby;
    if (auto r = co_await lease_.release(); !r) {
        log_->warn("replication.release_failed error=\"{}\" (a standby takes over at expiry)",
                   r.error().message);
        co_return;
    }
    log_->info("replication.released term={}: a standby takes over now", status_.term);
}

// --- LeaderChat --------------------------------------------------------------------------------

asio::awaitable<void> LeaderChat::run(core::InboundSink& sink) {
    co_await inner_.run(sink);
}

// Locally (the lease still vouches for this replica), then in the database (the term is still
// current): a replica whose lease was taken over while it did not notice posts nothing.
asio::awaitable<Result<void>> LeaderChat::allowed(std::string_view op) {
    if (!leadership_.may_act()) {
        co_return not_leader(op);
    }
    if (auto confirmed = co_await store_.confirm_term(); !confirmed) {
        co_return core::make_error(core::ErrorKind::Unavailable,
                                   fmt::format("{}: {}", op, confirmed.error().message));
    }
    co_return Result<void>{};
}

asio::awaitable<Result<core::MessageRef>> LeaderChat::post(core::OutboundMessage message) {
    if (auto ok = co_await allowed("chat.post"); !ok) {
        co_return ok.error();
    }
    co_return co_await inner_.post(std::move(message));
}

asio::awaitable<Result<void>> LeaderChat::update(core::MessageRef ref, std::string text) {
    if (auto ok = co_await allowed("chat.update"); !ok) {
        co_return ok.error();
    }
    co_return co_await inner_.update(std::move(ref), std::move(text));
}

asio::awaitable<Result<void>> LeaderChat::reply(core::ReplyTarget target,
                                                core::Visibility visibility,
                                                std::string text) {
    if (auto ok = co_await allowed("chat.reply"); !ok) {
        co_return ok.error();
    }
    co_return co_await inner_.reply(std::move(target), visibility, std::move(text));
}

// --- FencedRunbook -----------------------------------------------------------------------------

asio::awaitable<Result<core::DeploymentState>> FencedRunbook::observe(std::string deployment) {
    co_return co_await inner_.observe(std::move(deployment));
}

asio::awaitable<Result<core::DatabaseState>> FencedRunbook::observe_database(
    core::DbTarget target) {
    co_return co_await inner_.observe_database(std::move(target));
}

Result<core::Plan> FencedRunbook::plan(const core::RollbackRequest& request,
                                       const core::ClusterSnapshot& before) const {
    return inner_.plan(request, before);
}

asio::awaitable<core::PodsCheck> FencedRunbook::observe_pods(std::string deployment) {
    co_return co_await inner_.observe_pods(std::move(deployment));
}

asio::awaitable<core::StepResult> FencedRunbook::run(core::Step step) {
    // A database that restarts is waited for while the lease still vouches for this replica;
    // a term that moved on, or a trust that ran out, means the step is never started.
    auto executor = co_await asio::this_coro::executor;
    asio::steady_timer retry(executor);
    std::string why;
    while (leadership_.may_act()) {
        auto confirmed = co_await store_.confirm_term();
        if (confirmed) {
            co_return co_await inner_.run(std::move(step));
        }
        why = confirmed.error().message;
        if (confirmed.error().kind == core::ErrorKind::Conflict) {
            break;
        }
        retry.expires_after(kRetry / 2);
        co_await retry.async_wait(kNothrow);
    }
    core::StepResult refused;
    refused.outcome = core::StepOutcome::Failed;
    refused.summary =
        fmt::format("not started: this replica is no longer the leader{}; nothing was run",
                    why.empty() ? std::string{} : " (" + why + ")");
    co_return refused;
}

}  // namespace rollbot::daemon
