// rollbotd: the PreSkool ERP rollback daemon. The only file that knows every concrete class.
#include "actions/curl_http_client.hpp"
#include "actions/kubectl_runbook.hpp"
#include "actions/posix_process_runner.hpp"
#include "actions/service_verifier.hpp"
#include "adapters/console/console_transport.hpp"
#include "adapters/slack/socket_mode_transport.hpp"
#include "adapters/slack/web_api.hpp"
#include "bot/clock.hpp"
#include "bot/logging.hpp"
#include "bot/orchestrator.hpp"
#include "bot/reporter.hpp"
#include "bot/store/sqlite_store.hpp"
#include "config/loader.hpp"
#include "templates/renderer.hpp"

#include <CLI/CLI.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
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

// Runs until the chat ends (console input closed) or a signal asks the daemon to stop.
int run_daemon(const core::Settings& settings,
               const Options& opt,
               const core::Loggers& logs,
               const templates::Renderer& renderer,
               core::StateStore& store) {
    asio::io_context io{1};
    core::SystemClock clock;
    actions::PosixProcessRunner runner{io.get_executor(), logs.actions};
    actions::KubectlRunbook runbook{
        settings, runner, actions::child_environment(settings, environ), logs.actions};
    actions::CurlHttpClient http{
        actions::CurlHttpClientOptions{2, std::size_t{8} * 1024 * 1024, settings.slack.ca_file}};
    actions::ServiceVerifier verifier{http, settings.verify};
    Chat chat;
    make_chat(chat, io, settings, opt, logs, http, clock);
    const core::Reporter reporter{renderer, settings};
    core::Orchestrator orchestrator{io.get_executor(),
                                    core::OrchestratorDeps{settings,
                                                           chat.transport(),
                                                           chat.directory(),
                                                           runbook,
                                                           verifier,
                                                           clock,
                                                           reporter,
                                                           store,
                                                           logs.core,
                                                           logs.audit,
                                                           opt.dry_run}};

    int exit_code = kExitOk;
    asio::co_spawn(io, orchestrator.restore(), [&](const std::exception_ptr& e) {
        if (e) {
            logs.core->critical("state.restore failed");
            exit_code = kExitFatal;
            io.stop();
        }
    });
    asio::co_spawn(io, chat.transport().run(orchestrator), [&](const std::exception_ptr& e) {
        if (e) {
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                logs.core->critical("chat.run failed error={}", ex.what());
            }
            exit_code = kExitFatal;
        }
        io.stop();
    });
    asio::signal_set signals{io, SIGINT, SIGTERM};
    int received = 0;
    std::function<void(const boost::system::error_code&, int)> on_signal =
        [&](const boost::system::error_code& ec, int signo) {
            if (ec) {
                return;
            }
            if (++received == 1) {
                logs.core->info("daemon.stopping signal={} (a second signal kills running steps)",
                                signo);
                chat.transport().stop();  // stop intake; running work finishes and reports
                signals.async_wait(on_signal);
            } else {
                logs.core->warn("daemon.stopping_now signal={}", signo);
                runbook.cancel_all();
                io.stop();
            }
        };
    signals.async_wait(on_signal);
    logs.core->info("daemon.started mode={} config={} channel={} dry_run={}",
                    opt.console ? "console" : "slack",
                    settings.source,
                    settings.slack.incidents_channel,
                    opt.dry_run);
    io.run();
    logs.core->info(
        "daemon.stopped exit={} log_lines_dropped={}", exit_code, core::overrun_count());
    core::flush_logs();
    return exit_code;
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
