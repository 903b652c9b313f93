#pragma once

#include "actions/curl_http_client.hpp"
#include "actions/kubectl_runbook.hpp"
#include "actions/posix_process_runner.hpp"
#include "actions/service_verifier.hpp"
#include "adapters/console/console_transport.hpp"
#include "adapters/http/ops_server.hpp"
#include "adapters/slack/socket_mode_transport.hpp"
#include "adapters/slack/web_api.hpp"
#include "bot/daemon/options.hpp"
#include "bot/daemon/replication.hpp"
#include "bot/flow/coordinator.hpp"
#include "bot/logging.hpp"
#include "bot/metrics.hpp"
#include "bot/ops.hpp"
#include "bot/ports/clock.hpp"
#include "bot/ports/state_store.hpp"
#include "bot/reporter.hpp"
#include "bot/settings.hpp"
#include "bot/task_group.hpp"
#include "templates/renderer.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace rollbot::daemon {

/// The chat side of the daemon: Slack in production, the terminal in console mode.
struct Chat {
    std::optional<console::ConsoleTransport> console;
    std::optional<slack::SlackWebApi> api;
    std::optional<slack::SlackSocketModeTransport> slack;

    core::ChatTransport& transport();
    core::UserDirectory& directory();
};

/// Everything the running daemon is made of, alive for the whole io_context run: the one
/// place that knows every concrete class. Its coroutines use the members through `this`.
class Daemon {
public:
    Daemon(core::Settings& settings,
           const Options& opt,
           const core::Loggers& logs,
           const templates::Renderer& renderer,
           core::StateStore* store);

    /// Serves until stopped; the process's exit code.
    int run();

private:
    void make_chat();
    void define_metrics();
    [[nodiscard]] bool start_ops_server();
    boost::asio::awaitable<void> start();
    boost::asio::awaitable<void> run_chat();
    void on_signal(const boost::system::error_code& ec, int signo);
    /// Stops intake, lets the flow wind down (bounded), then ends the loop with exit 0.
    void begin_stop(std::string why);
    boost::asio::awaitable<void> wind_down(std::string why);
    /// SIGHUP: a valid file replaces what can change while running (once no command is being
    /// handled); an invalid one changes nothing.
    boost::asio::awaitable<void> reload();
    void fatal(std::string_view what);
    /// The lease was taken: this replica restores the state and connects to Slack.
    void become_leader(std::int64_t term);
    /// The lease is lost: running steps are killed and the process ends (kExitDeposed).
    void step_down(std::string why);
    [[nodiscard]] core::ReadinessCheck replication_check() const;
    [[nodiscard]] std::vector<core::ReadinessCheck> readiness();
    void collect(core::Metrics& m);

    core::Settings& settings_;
    const Options& opt_;
    const core::Loggers& logs_;
    core::StateStore* store_;  // the SQLite port, or the replication's PostgreSQL store
    // Before the io_context: coroutines still suspended at exit are destroyed with it, and
    // their timers let go of the clock as they go.
    core::SystemClock clock_;
    boost::asio::io_context io_{1};
    core::TaskGroup tasks_;
    actions::PosixProcessRunner runner_;
    actions::KubectlRunbook runbook_;
    actions::CurlHttpClient http_;
    actions::ServiceVerifier verifier_;
    core::Reporter reporter_;
    Chat chat_;
    core::Metrics metrics_;
    // The replicated mode (state.url); the flow then talks to the chat and the runbook
    // through the leader's guards.
    std::unique_ptr<Replication> replication_;
    std::optional<LeaderChat> leader_chat_;
    std::optional<FencedRunbook> fenced_runbook_;
    std::optional<core::Coordinator> flow_;
    core::OpsEndpoints endpoints_;
    std::shared_ptr<ops::OpsServer> ops_;
    boost::asio::signal_set signals_;
    boost::asio::steady_timer chat_ended_{io_, boost::asio::steady_timer::time_point::max()};
    bool chat_running_ = true;
    bool started_ = false;
    bool stopping_ = false;
    int exit_code_ = kExitOk;
};

}  // namespace rollbot::daemon
