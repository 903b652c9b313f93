#pragma once

// The leader lease of the replicated mode: one row (leader_lease, schema v2) with a term that
// rises at every takeover, the holder, the server process of the holder's lease connection
// (pg_backend_pid()) and an expiry on the database's clock. No advisory lock: a lock gives no
// fencing token and outlives a client whose TCP connection was never closed.
//
// A replica takes the lease when it is free, expired, or held through a connection the server
// no longer has (pg_stat_activity): a leader that died took its connection with it, so a
// standby need not wait for the expiry. The leader renews every third of the lease and trusts
// itself only until the moment it sent its last successful renewal plus the lease minus a
// margin, on its own monotonic clock: the database's now() at the renewal is later than that
// moment, so the replica has stopped before the row can expire.

#include "bot/store/pg_connection.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace rollbot::store {

struct LeaseTiming {
    std::chrono::milliseconds lease{15000};
    /// How much earlier than the row's expiry the leader stops trusting itself: covers a
    /// renewal's time on the wire and clocks that run at slightly different rates.
    [[nodiscard]] std::chrono::milliseconds margin() const;
    [[nodiscard]] std::chrono::milliseconds renew_every() const { return lease / 3; }
};

/// The row as it is now, for /readyz, /metrics and preflight.
struct LeaseHolder {
    std::int64_t term = 0;
    std::optional<std::string> holder;  // nullopt: released or never held
    int backend_pid = 0;
    bool expired = true;
    bool backend_alive = false;
};

/// One replica's handle on the lease, through a connection of its own (renewals never wait
/// behind the store's statements, and its backend is the one recorded in the row).
class PgLease {
public:
    PgLease(pg::Connection& db, std::string holder, LeaseTiming timing)
        : db_(db), holder_(std::move(holder)), timing_(timing) {}

    /// Takes the lease if it can (see above): the new term, or nullopt while another replica
    /// holds it. A network error is an error: the caller tries again.
    [[nodiscard]] boost::asio::awaitable<core::Result<std::optional<std::int64_t>>> try_acquire();
    /// Extends the lease of the term held. Conflict when that term is no longer current (another
    /// replica took over): the caller must stop acting at once.
    [[nodiscard]] boost::asio::awaitable<core::Result<void>> renew();
    /// Gives the lease up (a clean shutdown) so a standby takes over without waiting.
    [[nodiscard]] boost::asio::awaitable<core::Result<void>> release();
    [[nodiscard]] boost::asio::awaitable<core::Result<LeaseHolder>> read();

    /// The term held, 0 when not the leader.
    [[nodiscard]] std::int64_t term() const { return term_; }
    /// Until when this replica may act; the past when it is not the leader.
    [[nodiscard]] std::chrono::steady_clock::time_point trusted_until() const {
        return trusted_until_;
    }
    [[nodiscard]] const std::string& holder() const { return holder_; }
    [[nodiscard]] const LeaseTiming& timing() const { return timing_; }
    /// Forgets the term (after a step-down): the replica is a standby again.
    void forget();

private:
    pg::Connection& db_;
    std::string holder_;
    LeaseTiming timing_;
    std::int64_t term_ = 0;
    std::chrono::steady_clock::time_point trusted_until_{};
};

}  // namespace rollbot::store
