#pragma once

// The replicated mode (state.url, design §7): the state in PostgreSQL, one leader chosen by the
// lease (bot/store/pg_lease.hpp), hot standbys. Replication runs the election on the io thread
// and is the Leadership the flow asks; LeaderChat and FencedRunbook put that question in front
// of every post and every step, so a replica that is not the leader, or no longer sure it is,
// cannot post, edit or run anything.

#include "bot/ports/chat_transport.hpp"
#include "bot/ports/leadership.hpp"
#include "bot/ports/runbook.hpp"
#include "bot/settings.hpp"
#include "bot/store/pg_lease.hpp"
#include "bot/store/pg_store.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/logger.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace rollbot::daemon {

enum class Role { Connecting, Standby, Leader, Deposed };
[[nodiscard]] std::string_view to_string(Role role);

struct ReplicationStatus {
    Role role = Role::Connecting;
    std::int64_t term = 0;
    std::string problem;  // why the database or the lease is not usable now; "" when fine
    std::int64_t renewals = 0;
    std::int64_t renewal_failures = 0;
    std::int64_t takeovers = 0;
};

class Replication final : public core::Leadership {
public:
    /// `holder` names this replica in the lease row (the pod or host name and the pid).
    Replication(const boost::asio::any_io_executor& executor,
                const core::StateSettings& settings,
                std::string holder,
                std::shared_ptr<spdlog::logger> log);

    [[nodiscard]] store::PgStore& store() { return store_; }
    /// The leader, and the last renewal still vouches for it.
    [[nodiscard]] bool may_act() const override;
    [[nodiscard]] const ReplicationStatus& status() const { return status_; }
    [[nodiscard]] const std::string& holder() const { return lease_.holder(); }

    /// Connects and migrates (retrying while the database is unreachable), waits as a standby
    /// until the lease is free, calls `on_leader(term)`, then renews until the lease is lost
    /// (`on_lost(why)`, once) or stop() is called.
    boost::asio::awaitable<void> run(std::function<void(std::int64_t)> on_leader,
                                     std::function<void(std::string)> on_lost);
    /// Ends run() at its next wait.
    void stop();
    /// A clean shutdown of the leader: the lease is given up so a standby takes over at once.
    boost::asio::awaitable<void> release();

private:
    boost::asio::awaitable<bool> pause(std::chrono::steady_clock::time_point until);
    boost::asio::awaitable<void> renew_loop();
    void arm_watchdog();
    /// Stops leading (once): the watchdog, a renewal refused, or the lease taken over.
    void lose(std::string why);

    store::PgStore store_;
    store::pg::Connection lease_db_;
    store::PgLease lease_;
    std::shared_ptr<spdlog::logger> log_;
    boost::asio::steady_timer timer_;
    boost::asio::steady_timer watchdog_timer_;
    ReplicationStatus status_;
    std::function<void(std::string)> on_lost_;
    bool stopping_ = false;
};

/// The chat, for a replica that may act only while it leads: a post, edit or reply is sent only
/// after the term is confirmed current; otherwise it fails (Unavailable) and stays in the
/// outbox for the leader.
class LeaderChat final : public core::ChatTransport {
public:
    LeaderChat(core::ChatTransport& inner,
               const core::Leadership& leadership,
               store::PgStore& store)
        : inner_(inner), leadership_(leadership), store_(store) {}

    boost::asio::awaitable<void> run(core::InboundSink& sink) override;
    boost::asio::awaitable<core::Result<core::MessageRef>> post(
        core::OutboundMessage message) override;
    boost::asio::awaitable<core::Result<void>> update(core::MessageRef ref,
                                                      std::string text) override;
    boost::asio::awaitable<core::Result<void>> reply(core::ReplyTarget target,
                                                     core::Visibility visibility,
                                                     std::string text) override;
    void stop() override { inner_.stop(); }

private:
    boost::asio::awaitable<core::Result<void>> allowed(std::string_view op);

    core::ChatTransport& inner_;
    const core::Leadership& leadership_;
    store::PgStore& store_;
};

/// The runbook, for a replica that may act only while it leads: before a step is started, a
/// transaction proves the term is still current (PgStore::confirm_term); a deposed leader's
/// step is never started.
class FencedRunbook final : public core::Runbook {
public:
    FencedRunbook(core::Runbook& inner, const core::Leadership& leadership, store::PgStore& store)
        : inner_(inner), leadership_(leadership), store_(store) {}

    boost::asio::awaitable<core::Result<core::DeploymentState>> observe(
        std::string deployment) override;
    boost::asio::awaitable<core::Result<core::DatabaseState>> observe_database(
        core::DbTarget target) override;
    [[nodiscard]] core::Result<core::Plan> plan(const core::RollbackRequest& request,
                                                const core::ClusterSnapshot& before) const override;
    boost::asio::awaitable<core::PodsCheck> observe_pods(std::string deployment) override;
    boost::asio::awaitable<core::StepResult> run(core::Step step) override;
    void stop_waiting(const std::string& deployment) override { inner_.stop_waiting(deployment); }
    void cancel_all() override { inner_.cancel_all(); }

private:
    core::Runbook& inner_;
    const core::Leadership& leadership_;
    store::PgStore& store_;
};

}  // namespace rollbot::daemon
