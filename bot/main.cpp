// rollbotd: the PreSkool ERP rollback daemon. The only file that knows every concrete class.
#include "actions/curl_http_client.hpp"
#include "actions/health_verifier.hpp"
#include "actions/kubectl_runbook.hpp"
#include "actions/posix_process_runner.hpp"
#include "adapters/console/console_transport.hpp"
#include "bot/clock.hpp"
#include "bot/logging.hpp"
#include "bot/orchestrator.hpp"
#include "bot/reporter.hpp"
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

void fail_line(const std::string& message) { std::fprintf(stderr, "rollbotd: %s\n", message.c_str()); }

// Runs the console daemon until input ends or a signal asks it to stop; returns the exit code.
int run_console(const core::Settings& settings, const Options& opt, const core::Loggers& logs,
                const templates::Renderer& renderer) {
    asio::io_context io{1};
    core::SystemClock clock;
    actions::PosixProcessRunner runner{io.get_executor(), logs.actions};
    actions::KubectlRunbook runbook{settings, runner,
                                    actions::child_environment(settings, environ), logs.actions};
    actions::CurlHttpClient http{actions::CurlHttpClientOptions{2, 8U * 1024 * 1024,
                                                                settings.slack.ca_file}};
    actions::HealthVerifier verifier{http, settings.verify.health_url};
    console::ConsoleTransport chat{io.get_executor(), settings.console,
                                   settings.slack.incidents_channel, STDIN_FILENO, STDOUT_FILENO,
                                   clock, logs.chat};
    const core::Reporter reporter{renderer, settings};
    core::Orchestrator orchestrator{
        io.get_executor(),
        core::OrchestratorDeps{settings, chat, chat, runbook, verifier, clock, reporter, logs.core,
                               logs.audit, opt.dry_run}};

    int exit_code = kExitOk;
    asio::co_spawn(io, chat.run(orchestrator), [&](const std::exception_ptr& e) {
        if (e) {
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                logs.core->critical("console.run failed error={}", ex.what());
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
                chat.stop();  // stop intake; running work finishes and reports
                signals.async_wait(on_signal);
            } else {
                logs.core->warn("daemon.stopping_now signal={}", signo);
                runbook.cancel_all();
                io.stop();
            }
        };
    signals.async_wait(on_signal);
    logs.core->info("daemon.started mode=console config={} channel={} dry_run={}",
                    settings.source, settings.slack.incidents_channel, opt.dry_run);
    io.run();
    logs.core->info("daemon.stopped exit={}", exit_code);
    return exit_code;
}

int run(const Options& opt) {
    const auto level = core::parse_log_level(opt.log_level);
    const auto logs = core::make_loggers(level.value_or(spdlog::level::info),
                                         opt.log_format == "json" ? core::LogFormat::Json
                                                                  : core::LogFormat::Text);
    config::LoadOptions load_options;
    load_options.require_slack_tokens = !opt.console;
    auto settings = config::load_settings(opt.config, config::process_environment(), load_options);
    if (!settings) {
        for (const auto& problem : settings.error()) {
            std::fprintf(stderr, "%s\n", problem.to_string().c_str());
        }
        fail_line(fmt::format("{} configuration problem(s) in {}; nothing started",
                              settings.error().size(), opt.config));
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
        std::printf("rollbotd: %s is valid (%s mode)\n", opt.config.c_str(),
                    opt.console ? "console" : "slack");
        return kExitOk;
    }
    if (opt.verify_audit) {
        fail_line("--verify-audit: this build keeps no audit trail on disk yet");
        return kExitFatal;
    }
    if (!opt.console) {
        fail_line("the Slack transport is not part of this build yet; run with --console");
        return kExitFatal;
    }
    return run_console(*settings, opt, logs, *renderer);
}

}  // namespace

int main(int argc, char** argv) {
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
    try {
        return run(opt);
    } catch (const std::exception& e) {
        fail_line(std::string("fatal: ") + e.what());
        return kExitFatal;
    }
}
