// rollbotd: the PreSkool ERP rollback daemon. The only file that knows every concrete class.
#include "actions/curl_http_client.hpp"
#include "actions/kubectl_runbook.hpp"
#include "actions/posix_process_runner.hpp"
#include "actions/service_verifier.hpp"
#include "adapters/console/console_transport.hpp"
#include "adapters/http/ops_server.hpp"
#include "adapters/slack/socket_mode_transport.hpp"
#include "adapters/slack/web_api.hpp"
#include "bot/clock.hpp"
#include "bot/logging.hpp"
#include "bot/metrics.hpp"
#include "bot/ops.hpp"
#include "bot/orchestrator.hpp"
#include "bot/reporter.hpp"
#include "bot/store/sqlite_store.hpp"
#include "config/loader.hpp"
#include "config/reload.hpp"
#include "templates/renderer.hpp"

#include <CLI/CLI.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <unistd.h>

extern char** environ;

namespace {

namespace asio = boost::asio;
using namespace rollbot;

constexpr int kExitOk = 0;
constexpr int kExitFatal = 1;
constexpr int kExitConfig = 78;  // EX_CONFIG

struct Options {
    std::string config;
    bool console = false;
    bool check_config = false;
    bool verify_audit = false;
    bool dry_run = false;
    bool version = false;
    std::string log_level = "info";
    std::string log_format = "text";
};

void fail_line(const std::string& message) {
    std::fprintf(stderr, "rollbotd: %s\n", message.c_str());
}

// The chat side of the daemon: Slack in production, the terminal in console mode.
struct Chat {
    std::optional<console::ConsoleTransport> console;
    std::optional<slack::SlackWebApi> api;
    std::optional<slack::SlackSocketModeTransport> slack;

    core::ChatTransport& transport() {
        return console ? static_cast<core::ChatTransport&>(*console) : *slack;
    }
    core::UserDirectory& directory() {
        return console ? static_cast<core::UserDirectory&>(*console) : *slack;
    }
};

void make_chat(Chat& chat,
               asio::io_context& io,
               const core::Settings& settings,
               const Options& opt,
               const core::Loggers& logs,
               core::HttpClient& http,
               const core::Clock& clock) {
    if (opt.console) {
        chat.console.emplace(io.get_executor(),
                             settings.console,
                             settings.slack.incidents_channel,
                             STDIN_FILENO,
                             STDOUT_FILENO,
                             clock,
                             logs.chat);
        return;
    }
    chat.api.emplace(io.get_executor(),
                     http,
                     settings.slack.api_url,
                     settings.tokens.bot_token,
                     settings.tokens.app_token,
                     clock,
                     logs.chat);
    slack::SocketModeOptions options;
    options.connection.ca_file = settings.slack.ca_file;
    options.connection.liveness_timeout = settings.slack.liveness_timeout;
    chat.slack.emplace(io.get_executor(), *chat.api, options, clock, logs.chat);
}

// `--verify-audit`: walks the hash chain; 0 when intact, 1 (and where it breaks) when not.
int verify_audit(core::StateStore& store, const std::string& path) {
    auto check = store.verify_audit();
    if (!check) {
        fail_line(fmt::format("--verify-audit: {}", check.error().message));
        return kExitFatal;
    }
    if (!check->ok) {
        std::printf("rollbotd: audit trail in %s is BROKEN at record %lld of %lld: %s\n",
                    path.c_str(),
                    static_cast<long long>(check->first_bad.value_or(0)),
                    static_cast<long long>(check->records),
                    check->problem.c_str());
        return kExitFatal;
    }
    std::printf("rollbotd: audit trail in %s is intact: %lld records, every hash verifies\n",
                path.c_str(),
                static_cast<long long>(check->records));
    return kExitOk;
}

// Resident set size from /proc (bytes), 0 when unreadable.
double resident_bytes() {
    std::FILE* f = std::fopen("/proc/self/statm", "r");
    if (f == nullptr) {
        return 0;
    }
    long pages = 0;
    long resident = 0;
    const int read = std::fscanf(f, "%ld %ld", &pages, &resident);
    std::fclose(f);
    return read == 2 ? static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE))
                     : 0;
}

// Everything the running daemon is made of, alive for the whole io_context run. Its
// coroutines use the members through `this`.
class Daemon {
public:
    Daemon(core::Settings& settings,
           const Options& opt,
           const core::Loggers& logs,
           const templates::Renderer& renderer,
           core::StateStore& store)
        : settings_(settings),
          opt_(opt),
          logs_(logs),
          store_(store),
          runner_(io_.get_executor(), logs.actions),
          runbook_(settings, runner_, actions::child_environment(settings, environ), logs.actions),
          http_(actions::CurlHttpClientOptions{
              2, std::size_t{8} * 1024 * 1024, settings.slack.ca_file}),
          verifier_(http_, settings.verify),
          reporter_(renderer, settings),
          signals_(io_, SIGINT, SIGTERM, SIGHUP) {
        make_chat(chat_, io_, settings, opt, logs, http_, clock_);
        core::define_rollbot_metrics(metrics_);
        slack::define_slack_metrics(metrics_);
        orchestrator_.emplace(io_.get_executor(),
                              core::OrchestratorDeps{settings,
                                                     chat_.transport(),
                                                     chat_.directory(),
                                                     runbook_,
                                                     verifier_,
                                                     clock_,
                                                     reporter_,
                                                     store_,
                                                     logs.core,
                                                     logs.audit,
                                                     opt.dry_run,
                                                     &metrics_});
        if (chat_.slack) {
            chat_.slack->attach_metrics(metrics_);
        }
        metrics_.set("rollbot_build_info", {ROLLBOT_VERSION}, 1);
        metrics_.set(
            "process_start_time_seconds",
            {},
            std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
                .count());
        metrics_.on_collect([this](core::Metrics& m) { collect(m); });
    }

    int run() {
        if (settings_.http.enabled) {
            auto server = ops::start_ops_server(io_.get_executor(),
                                                settings_.http.host,
                                                settings_.http.port,
                                                endpoints_,
                                                logs_.core);
            if (!server) {
                fail_line(server.error().message);
                return kExitFatal;
            }
            ops_ = *server;
            logs_.core->info("http.listening address={}:{} paths=/healthz,/readyz,/metrics",
                             settings_.http.host,
                             ops_->port());
        }
        asio::co_spawn(io_, orchestrator_->restore(), [this](const std::exception_ptr& e) {
            if (e) {
                logs_.core->critical("state.restore failed");
                exit_code_ = kExitFatal;
                io_.stop();
                return;
            }
            started_ = true;
        });
        asio::co_spawn(
            io_, chat_.transport().run(*orchestrator_), [this](const std::exception_ptr& e) {
                if (e) {
                    try {
                        std::rethrow_exception(e);
                    } catch (const std::exception& ex) {
                        logs_.core->critical("chat.run failed error={}", ex.what());
                    }
                    exit_code_ = kExitFatal;
                    io_.stop();
                    return;
                }
                chat_running_ = false;
                chat_ended_.cancel();
                begin_stop("chat input closed");  // console: end of input; after stop(): no-op
            });
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

private:
    void on_signal(const boost::system::error_code& ec, int signo) {
        if (ec) {
            return;
        }
        signals_.async_wait([this](const auto& e, int n) { on_signal(e, n); });
        if (signo == SIGHUP) {
            asio::co_spawn(io_, reload(), [this](const std::exception_ptr& e) {
                if (e) {
                    logs_.core->error("config.reload failed: internal error");
                }
            });
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

    // Stop intake, let the orchestrator wind down (bounded), then end the loop with exit 0.
    void begin_stop(std::string why) {
        if (stopping_) {
            return;
        }
        stopping_ = true;
        logs_.core->info(
            "daemon.stopping why=\"{}\" grace_ms={} flush_ms={} (a second signal stops at once)",
            why,
            settings_.shutdown.grace.count(),
            settings_.shutdown.outbox_flush.count());
        chat_.transport().stop();
        asio::co_spawn(io_, wind_down(std::move(why)), [this](const std::exception_ptr& e) {
            if (e) {
                logs_.core->error("daemon.stop failed: internal error");
            }
            if (ops_) {
                ops_->stop();
            }
            io_.stop();
        });
    }

    asio::awaitable<void> wind_down(std::string why) {
        // Slack's close handshake is bounded by the connection's close timeout (5 s).
        constexpr auto kChatClose = std::chrono::seconds(10);
        co_await orchestrator_->shutdown(
            std::move(why), settings_.shutdown.grace, settings_.shutdown.outbox_flush);
        // The transport says goodbye (a websocket close frame) before the loop ends.
        using namespace asio::experimental::awaitable_operators;
        constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);
        asio::steady_timer deadline(io_, kChatClose);
        if (chat_running_) {
            co_await (chat_ended_.async_wait(nothrow) || deadline.async_wait(nothrow));
        }
    }

    // SIGHUP: a valid file replaces what can change while running (once no command is being
    // handled); an invalid one changes nothing.
    asio::awaitable<void> reload() {
        config::LoadOptions load_options;
        load_options.require_slack_tokens = !opt_.console;
        auto fresh =
            config::load_settings(opt_.config, config::process_environment(), load_options);
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
        if (orchestrator_->active() > 0) {
            logs_.core->info("config.reload_deferred until the running commands finish");
            co_await orchestrator_->wait_idle();
        }
        // Another reload may have applied meanwhile: compare again with what runs now.
        change = config::diff_settings(settings_, *fresh);
        config::apply_live(settings_, *fresh);
        const auto joined = [](const std::vector<std::string>& keys) {
            std::string out;
            for (const auto& k : keys) {
                out += (out.empty() ? "" : ",") + k;
            }
            return out.empty() ? std::string("none") : out;
        };
        logs_.core->info("config.reloaded file={} applied={} needs_restart={}",
                         opt_.config,
                         joined(change.applied),
                         joined(change.need_restart));
        logs_.audit->info("config.reloaded applied={} needs_restart={}",
                          joined(change.applied),
                          joined(change.need_restart));
        metrics_.add("rollbot_config_reloads_total", {"applied"});
    }

    std::vector<core::ReadinessCheck> readiness() {
        std::vector<core::ReadinessCheck> checks;
        if (stopping_) {
            checks.push_back({"stopping", false, "rollbot is shutting down"});
        }
        if (chat_.slack) {
            const auto& status = chat_.slack->status();
            std::string detail = status.live
                                     ? fmt::format("connected (Slack counts {} connection(s))",
                                                   status.num_connections)
                                     : "no live Socket Mode connection (connecting)";
            if (status.fatal) {
                detail = "stopped reconnecting: " + status.fatal_reason;
            }
            checks.push_back({"slack", status.live && !status.fatal, std::move(detail)});
        } else {
            checks.push_back({"started",
                              started_,
                              started_ ? "console mode, state restored" : "restoring state"});
        }
        auto writable = store_.check_writable();
        checks.push_back(
            {"state",
             writable.has_value(),
             writable ? settings_.state.path + " is writable" : writable.error().message});
        return checks;
    }

    void collect(core::Metrics& m) {
        m.set("rollbot_ready", {}, endpoints_.readiness().first ? 1 : 0);
        m.set("process_resident_memory_bytes", {}, resident_bytes());
        m.set("rollbot_outbox_depth", {}, static_cast<double>(orchestrator_->outbox_depth()));
        m.set("rollbot_runs_active", {}, static_cast<double>(orchestrator_->running()));
        m.set("rollbot_approvals_pending",
              {},
              static_cast<double>(orchestrator_->pending_approvals()));
        if (chat_.slack) {
            chat_.slack->export_metrics(m);
        }
    }

    core::Settings& settings_;
    const Options& opt_;
    const core::Loggers& logs_;
    core::StateStore& store_;
    asio::io_context io_{1};
    core::SystemClock clock_;
    actions::PosixProcessRunner runner_;
    actions::KubectlRunbook runbook_;
    actions::CurlHttpClient http_;
    actions::ServiceVerifier verifier_;
    core::Reporter reporter_;
    Chat chat_;
    core::Metrics metrics_;
    std::optional<core::Orchestrator> orchestrator_;
    core::OpsEndpoints endpoints_{metrics_, [this] {
                                      return readiness();
                                  }};
    std::shared_ptr<ops::OpsServer> ops_;
    asio::signal_set signals_;
    asio::steady_timer chat_ended_{io_, asio::steady_timer::time_point::max()};
    bool chat_running_ = true;
    bool started_ = false;
    bool stopping_ = false;
    int exit_code_ = kExitOk;
};

int run_daemon(core::Settings& settings,
               const Options& opt,
               const core::Loggers& logs,
               const templates::Renderer& renderer,
               core::StateStore& store) {
    Daemon daemon(settings, opt, logs, renderer, store);
    return daemon.run();
}

int run(const Options& opt) {
    const auto level = core::parse_log_level(opt.log_level);
    const auto logs = core::make_loggers(
        level.value_or(spdlog::level::info),
        opt.log_format == "json" ? core::LogFormat::Json : core::LogFormat::Text);
    config::LoadOptions load_options;
    load_options.require_slack_tokens = !opt.console && !opt.verify_audit;
    auto settings = config::load_settings(opt.config, config::process_environment(), load_options);
    if (!settings) {
        for (const auto& problem : settings.error()) {
            std::fprintf(stderr, "%s\n", problem.to_string().c_str());
        }
        fail_line(fmt::format("{} configuration problem(s) in {}; nothing started",
                              settings.error().size(),
                              opt.config));
        return kExitConfig;
    }
    std::optional<templates::Renderer> renderer;
    try {
        renderer = settings->templates.dir.empty()
                       ? templates::Renderer::builtin()
                       : templates::Renderer::with_overrides(settings->templates.dir);
    } catch (const templates::TemplateError& e) {
        fail_line(e.what());
        return kExitConfig;
    }
    if (opt.check_config) {
        std::printf("rollbotd: %s is valid (%s mode)\n",
                    opt.config.c_str(),
                    opt.console ? "console" : "slack");
        return kExitOk;
    }
    auto store = store::SqliteStore::open(settings->state.path);
    if (!store) {
        fail_line(fmt::format("state: {}", store.error().message));
        return kExitFatal;
    }
    if (opt.verify_audit) {
        return verify_audit(**store, settings->state.path);
    }
    return run_daemon(*settings, opt, logs, *renderer, **store);
}

}  // namespace

int main(int argc, char** argv) try {
    // Writes to a closed pipe or socket must be errors we handle, not a silent death.
    std::signal(SIGPIPE, SIG_IGN);
    // A file-size limit (ulimit -f, systemd LimitFSIZE=) reached by the state file or a log must
    // fail that write (EFBIG, reported like a full disk) instead of killing the daemon mid-run.
    std::signal(SIGXFSZ, SIG_IGN);
    Options opt;
    CLI::App app{"rollbotd: PreSkool ERP rollback chat-ops daemon"};
    app.add_option("--config", opt.config, "configuration file (YAML)");
    app.add_flag("--console", opt.console, "chat through stdin/stdout instead of Slack");
    app.add_flag("--check-config", opt.check_config, "validate the configuration and exit");
    app.add_flag("--verify-audit", opt.verify_audit, "check the audit trail's hash chain and exit");
    app.add_flag("--dry-run", opt.dry_run, "run every rollback in dry-run mode");
    app.add_flag("--version", opt.version, "print the version and exit");
    app.add_option("--log-level", opt.log_level, "trace, debug, info, warn, error, critical, off")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
    app.add_option("--log-format", opt.log_format, "text or json")
        ->check(CLI::IsMember({"text", "json"}));
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int code = app.exit(e);
        return code == 0 ? kExitOk : kExitConfig;
    }
    if (opt.version) {
        std::printf("rollbotd %s\n", ROLLBOT_VERSION);
        return kExitOk;
    }
    if (opt.config.empty()) {
        fail_line("--config FILE is required (see --help)");
        return kExitConfig;
    }
    return run(opt);
} catch (const std::exception& e) {
    fail_line(std::string("fatal: ") + e.what());
    return kExitFatal;
} catch (...) {
    fail_line("fatal: unknown exception");
    return kExitFatal;
}
