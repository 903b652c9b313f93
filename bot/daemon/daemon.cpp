#include "bot/daemon/daemon.hpp"

#include "config/loader.hpp"
#include "config/reload.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include <array>
#include <csignal>
#include <cstdio>
#include <unistd.h>

namespace rollbot::daemon {
namespace {

namespace asio = boost::asio;

// This replica in the lease row: the pod (HOSTNAME in Kubernetes) or host name, and the pid.
std::string replica_name() {
    std::array<char, 256> host{};
    if (gethostname(host.data(), host.size() - 1) != 0) {
        host[0] = '\0';
    }
    const std::string name = host[0] != '\0' ? host.data() : "rollbot";
    return fmt::format("{}/{}", name, getpid());
}

std::string joined(const std::vector<std::string>& keys) {
    std::string out;
    for (const auto& k : keys) {
        out += (out.empty() ? "" : ",") + k;
    }
    return out.empty() ? std::string("none") : out;
}

}  // namespace

core::ChatTransport& Chat::transport() {
    return console ? static_cast<core::ChatTransport&>(*console) : *slack;
}

core::UserDirectory& Chat::directory() {
    return console ? static_cast<core::UserDirectory&>(*console) : *slack;
}

Daemon::Daemon(core::Settings& settings,
               const Options& opt,
               const core::Loggers& logs,
               const templates::Renderer& renderer,
               core::StateStore* store)
    : settings_(settings),
      opt_(opt),
      logs_(logs),
      store_(store),
      tasks_(io_.get_executor(), logs.core),
      runner_(io_.get_executor(), logs.actions),
      runbook_(settings, runner_, actions::child_environment(settings, environ), logs.actions),
      http_(
          actions::CurlHttpClientOptions{2, std::size_t{8} * 1024 * 1024, settings.slack.ca_file}),
      verifier_(http_, settings.verify),
      reporter_(renderer, settings),
      endpoints_(metrics_, [this] { return readiness(); }),
      signals_(io_, SIGINT, SIGTERM, SIGHUP) {
    make_chat();
    if (store_ == nullptr) {
        replication_ = std::make_unique<Replication>(
            io_.get_executor(), settings.state, replica_name(), logs.core);
        store_ = &replication_->store();
        leader_chat_.emplace(chat_.transport(), *replication_, replication_->store());
        fenced_runbook_.emplace(runbook_, *replication_, replication_->store());
        chat_running_ = false;  // a standby is not on Slack
    }
    define_metrics();
    core::ChatTransport& chat = leader_chat_ ? *leader_chat_ : chat_.transport();
    core::Runbook& runbook = fenced_runbook_ ? static_cast<core::Runbook&>(*fenced_runbook_)
                                             : static_cast<core::Runbook&>(runbook_);
    flow_.emplace(core::FlowDeps{settings,
                                 chat,
                                 chat_.directory(),
                                 runbook,
                                 verifier_,
                                 clock_,
                                 reporter_,
                                 *store_,
                                 tasks_,
                                 logs.core,
                                 logs.audit,
                                 opt.dry_run,
                                 &metrics_});
}

void Daemon::make_chat() {
    if (opt_.console) {
        chat_.console.emplace(io_.get_executor(),
                              settings_.console,
                              settings_.slack.incidents_channel,
                              STDIN_FILENO,
                              STDOUT_FILENO,
                              clock_,
                              logs_.chat);
        return;
    }
    chat_.api.emplace(io_.get_executor(),
                      http_,
                      settings_.slack.api_url,
                      settings_.tokens.bot_token,
                      settings_.tokens.app_token,
                      clock_,
                      logs_.chat);
    slack::SocketModeOptions options;
    options.connection.ca_file = settings_.slack.ca_file;
    options.connection.liveness_timeout = settings_.slack.liveness_timeout;
    chat_.slack.emplace(tasks_, *chat_.api, options, clock_, logs_.chat);
}

bool Daemon::start_ops_server() {
    auto server = ops::start_ops_server(
        tasks_, settings_.http.host, settings_.http.port, endpoints_, logs_.core);
    if (!server) {
        fail_line(server.error().message);
        return false;
    }
    ops_ = *server;
    logs_.core->info("http.listening address={}:{} paths=/healthz,/readyz,/metrics",
                     settings_.http.host,
                     ops_->port());
    return true;
}

int Daemon::run() {
    if (settings_.http.enabled && !start_ops_server()) {
        return kExitFatal;
    }
    const auto fail = [this](std::string_view what) {
        fatal(what);
    };
    if (replication_) {
        auto elected = [this](std::int64_t term) {
            become_leader(term);
        };
        auto lost = [this](std::string why) {
            step_down(std::move(why));
        };
        tasks_.spawn("replication",
                     replication_->run(std::move(elected), std::move(lost)),
                     core::TaskGroup::Kind::Background,
                     fail);
    } else {
        tasks_.spawn("state.restore", start(), core::TaskGroup::Kind::Background, fail);
        tasks_.spawn("chat.run", run_chat(), core::TaskGroup::Kind::Background, fail);
    }
    signals_.async_wait([this](const auto& ec, int signo) { on_signal(ec, signo); });
    logs_.core->info("daemon.started mode={} config={} channel={} dry_run={}",
                     opt_.console ? "console" : "slack",
                     settings_.source,
                     settings_.slack.incidents_channel,
                     opt_.dry_run);
    io_.run();
    logs_.core->info(
        "daemon.stopped exit={} log_lines_dropped={}", exit_code_, core::overrun_count());
    core::flush_logs();
    return exit_code_;
}

// A task the daemon cannot run without ended by an exception (already logged by the group).
void Daemon::fatal(std::string_view what) {
    logs_.core->critical("daemon.fatal error={}", what);
    exit_code_ = kExitFatal;
    io_.stop();
}

void Daemon::become_leader(std::int64_t term) {
    if (stopping_) {
        return;
    }
    logs_.core->info("daemon.leading term={}: restoring the state, connecting to Slack", term);
    const auto fail = [this](std::string_view what) {
        fatal(what);
    };
    chat_running_ = true;
    tasks_.spawn("state.restore", start(), core::TaskGroup::Kind::Background, fail);
    tasks_.spawn("chat.run", run_chat(), core::TaskGroup::Kind::Background, fail);
}

void Daemon::step_down(std::string why) {
    logs_.core->critical(
        "daemon.deposed why=\"{}\": running steps killed, Slack closed; exiting so that the "
        "supervisor starts this replica again as a standby",
        why);
    runbook_.cancel_all();
    chat_.transport().stop();
    exit_code_ = kExitDeposed;
    io_.stop();
}

asio::awaitable<void> Daemon::start() {
    co_await flow_->restore();
    started_ = true;
}

asio::awaitable<void> Daemon::run_chat() {
    co_await chat_.transport().run(*flow_);
    chat_running_ = false;
    chat_ended_.cancel();
    begin_stop("chat input closed");  // console: end of input; after stop(): no-op
}

void Daemon::on_signal(const boost::system::error_code& ec, int signo) {
    if (ec) {
        return;
    }
    signals_.async_wait([this](const auto& e, int n) { on_signal(e, n); });
    if (signo == SIGHUP) {
        tasks_.spawn("config.reload", reload(), core::TaskGroup::Kind::Background);
        return;
    }
    if (!stopping_) {
        begin_stop(signo == SIGTERM ? "SIGTERM" : "SIGINT");
        return;
    }
    logs_.core->warn("daemon.stopping_now signal={}: running steps killed, outbox kept", signo);
    runbook_.cancel_all();
    io_.stop();
}

void Daemon::begin_stop(std::string why) {
    if (stopping_) {
        return;
    }
    stopping_ = true;
    if (replication_) {
        replication_->stop();
    }
    logs_.core->info(
        "daemon.stopping why=\"{}\" grace_ms={} flush_ms={} (a second signal stops at once)",
        why,
        settings_.shutdown.grace.count(),
        settings_.shutdown.outbox_flush.count());
    chat_.transport().stop();
    const auto end = [this](std::string_view) {
        if (ops_) {
            ops_->stop();
        }
        io_.stop();
    };
    tasks_.spawn("daemon.stop", wind_down(std::move(why)), core::TaskGroup::Kind::Background, end);
}

asio::awaitable<void> Daemon::wind_down(std::string why) {
    // Slack's close handshake is bounded by the connection's close timeout (5 s).
    constexpr auto kChatClose = std::chrono::seconds(10);
    if (!replication_ || replication_->status().role == Role::Leader) {
        co_await flow_->shutdown(
            std::move(why), settings_.shutdown.grace, settings_.shutdown.outbox_flush);
    }
    // The transport says goodbye (a websocket close frame) before the loop ends.
    using namespace asio::experimental::awaitable_operators;
    constexpr auto kNothrow = asio::as_tuple(asio::use_awaitable);
    asio::steady_timer deadline(io_, kChatClose);
    if (chat_running_) {
        co_await (chat_ended_.async_wait(kNothrow) || deadline.async_wait(kNothrow));
    }
    if (replication_) {
        co_await replication_->release();
    }
    if (ops_) {
        ops_->stop();
    }
    io_.stop();
}

asio::awaitable<void> Daemon::reload() {
    config::LoadOptions load_options;
    load_options.require_slack_tokens = !opt_.console;
    auto fresh = config::load_settings(opt_.config, config::process_environment(), load_options);
    if (!fresh) {
        for (const auto& problem : fresh.error()) {
            logs_.core->error("config.reload_problem {}", problem.to_string());
        }
        logs_.core->error(
            "config.reload_refused problems={} file={}: the running configuration is kept",
            fresh.error().size(),
            opt_.config);
        metrics_.add("rollbot_config_reloads_total", {"invalid"});
        co_return;
    }
    auto change = config::diff_settings(settings_, *fresh);
    if (change.empty()) {
        logs_.core->info("config.reload_unchanged file={}", opt_.config);
        metrics_.add("rollbot_config_reloads_total", {"unchanged"});
        co_return;
    }
    if (flow_->active() > 0) {
        logs_.core->info("config.reload_deferred until the running commands finish");
        co_await flow_->wait_idle();
    }
    // Another reload may have applied meanwhile: compare again with what runs now.
    change = config::diff_settings(settings_, *fresh);
    config::apply_live(settings_, *fresh);
    logs_.core->info("config.reloaded file={} applied={} needs_restart={}",
                     opt_.config,
                     joined(change.applied),
                     joined(change.need_restart));
    logs_.audit->info("config.reloaded applied={} needs_restart={}",
                      joined(change.applied),
                      joined(change.need_restart));
    metrics_.add("rollbot_config_reloads_total", {"applied"});
}

}  // namespace rollbot::daemon
