// rollbotd: the PreSkool ERP rollback daemon. The command line, the configuration and the
// state store; bot/daemon/daemon.cpp wires the rest.
#include "bot/daemon/daemon.hpp"
#include "bot/daemon/options.hpp"
#include "bot/logging.hpp"
#include "bot/store/pg_store.hpp"
#include "bot/store/sqlite_port.hpp"
#include "bot/store/sqlite_store.hpp"
#include "bot/task_group.hpp"
#include "config/loader.hpp"
#include "templates/renderer.hpp"

#include <CLI/CLI.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <fmt/format.h>

#include <csignal>
#include <cstdio>

namespace rollbot::daemon {

void fail_line(const std::string& message) {
    std::fprintf(stderr, "rollbotd: %s\n", message.c_str());
}

}  // namespace rollbot::daemon

namespace {

using namespace rollbot;
using namespace rollbot::daemon;

// `--verify-audit`: walks the hash chain; 0 when intact, 1 (and where it breaks) when not.
// `where` names the state for people: the SQLite path, or "PostgreSQL" (never the URL).
int report_audit(const core::Result<core::AuditCheck>& check, const std::string& where) {
    if (!check) {
        fail_line(fmt::format("--verify-audit: {}", check.error().message));
        return kExitFatal;
    }
    if (!check->ok) {
        std::printf("rollbotd: audit trail in %s is BROKEN at record %lld of %lld: %s\n",
                    where.c_str(),
                    static_cast<long long>(check->first_bad.value_or(0)),
                    static_cast<long long>(check->records),
                    check->problem.c_str());
        return kExitFatal;
    }
    std::printf("rollbotd: audit trail in %s is intact: %lld records, every hash verifies\n",
                where.c_str(),
                static_cast<long long>(check->records));
    return kExitOk;
}

boost::asio::awaitable<core::Result<core::AuditCheck>> verify_pg_audit(
    boost::asio::any_io_executor executor, std::string url) {
    store::pg::Options options;
    auto store = co_await store::PgStore::open(std::move(executor), std::move(url), options);
    if (!store) {
        co_return store.error();
    }
    co_return co_await (*store)->verify_audit();
}

// --verify-audit against state.url: the same chain, read through one connection.
int verify_pg(const core::Settings& settings) {
    boost::asio::io_context io{1};
    std::optional<core::Result<core::AuditCheck>> check;
    boost::asio::co_spawn(
        io,
        verify_pg_audit(io.get_executor(), settings.state.url.reveal()),
        [&check](const std::exception_ptr& error, core::Result<core::AuditCheck> r) {
            if (error) {
                r = core::make_error(core::ErrorKind::Storage,
                                     "state.verify_audit: " + core::describe_exception(error));
            }
            check = std::move(r);
        });
    io.run();
    if (!check) {
        fail_line("--verify-audit: the check did not finish");
        return kExitFatal;
    }
    return report_audit(*check, "PostgreSQL (state.url)");
}

int run_daemon(core::Settings& settings,
               const Options& opt,
               const core::Loggers& logs,
               const templates::Renderer& renderer,
               core::StateStore* store) {
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
    if (!settings->state.url.empty()) {
        if (opt.verify_audit) {
            return verify_pg(*settings);
        }
        return run_daemon(*settings, opt, logs, *renderer, nullptr);  // the replicated mode
    }
    auto store = store::SqliteStore::open(settings->state.path);
    if (!store) {
        fail_line(fmt::format("state: {}", store.error().message));
        return kExitFatal;
    }
    if (opt.verify_audit) {
        return report_audit((**store).verify_audit(), settings->state.path);
    }
    store::SqlitePort port(**store);
    return run_daemon(*settings, opt, logs, *renderer, &port);
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
