#include "actions/kubectl_runbook.hpp"

#include "actions/alembic.hpp"
#include "actions/history.hpp"
#include "actions/kubectl.hpp"
#include "actions/planner.hpp"
#include "actions/pods.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <string_view>

namespace rollbot::actions {

Environment child_environment(const core::Settings& settings, char** daemon_env) {
    // KUBERNETES_SERVICE_HOST/PORT: in a pod without a kubeconfig, kubectl finds the API
    // server through them (with the service account token): without them it tries
    // localhost:8080.
    static constexpr std::array<std::string_view, 10> kInherited{"PATH",
                                                                 "HOME",
                                                                 "USER",
                                                                 "LANG",
                                                                 "LC_ALL",
                                                                 "TZ",
                                                                 "TMPDIR",
                                                                 "KUBECONFIG",
                                                                 "KUBERNETES_SERVICE_HOST",
                                                                 "KUBERNETES_SERVICE_PORT"};
    Environment env;
    for (char** e = daemon_env; e != nullptr && *e != nullptr; ++e) {
        std::string_view entry(*e);
        const auto eq = entry.find('=');
        if (eq == std::string_view::npos) {
            continue;
        }
        const auto name = entry.substr(0, eq);
        const bool inherited =
            std::find(kInherited.begin(), kInherited.end(), name) != kInherited.end();
        const bool overridden = name == "KUBECONFIG" && !settings.kubernetes.kubeconfig.empty();
        if (inherited && !overridden) {
            env.emplace_back(std::string(name), std::string(entry.substr(eq + 1)));
        }
    }
    if (!settings.kubernetes.kubeconfig.empty()) {
        // rollback.sh calls kubectl itself: it must talk to the same cluster as the bot.
        env.emplace_back("KUBECONFIG", settings.kubernetes.kubeconfig);
    }
    if (std::none_of(env.begin(), env.end(), [](const auto& v) { return v.first == "PATH"; })) {
        env.emplace_back("PATH", "/usr/local/bin:/usr/bin:/bin");
    }
    return env;
}

KubectlRunbook::KubectlRunbook(const core::Settings& settings,
                               actions::ProcessRunner& runner,
                               Environment base_env,
                               std::shared_ptr<spdlog::logger> log)
    : settings_(settings), runner_(runner), base_env_(std::move(base_env)), log_(std::move(log)) {}

boost::asio::awaitable<core::Result<core::DeploymentState>> KubectlRunbook::observe(
    std::string deployment) {
    auto it = settings_.kubernetes.deployments.find(deployment);
    if (it == settings_.kubernetes.deployments.end()) {
        co_return core::Error{core::ErrorKind::Invalid, deployment + " is not configured"};
    }
    const core::Step step = observe_step(settings_, deployment);
    auto out = co_await spawn(step);
    if (!out) {
        co_return out.error();
    }
    if (!out->success()) {
        co_return core::Error{
            core::ErrorKind::ProcessFailed,
            "kubectl get deployment " + deployment + ": " + interpret(step, *out).summary};
    }
    auto state = parse_deployment(out->out, it->second.container);
    if (!state) {
        co_return state;
    }
    const core::Step history = history_step(settings_, deployment);
    auto revisions = co_await spawn(history);
    if (revisions && revisions->success()) {
        auto parsed = parse_rollout_history(revisions->out, it->second.container);
        if (parsed) {
            state->history = std::move(*parsed);
            state->history_known = true;
        }
    }
    if (!state->history_known) {
        log_->warn("runbook.history_unreadable deployment={}", deployment);
    }
    co_return state;
}

boost::asio::awaitable<core::Result<core::DatabaseState>> KubectlRunbook::observe_database(
    core::DbTarget target) {
    const core::Step current = alembic_current_step(settings_);
    auto out = co_await spawn(current);
    if (!out) {
        co_return out.error();
    }
    if (!out->success()) {
        co_return core::Error{core::ErrorKind::ProcessFailed,
                              "alembic current: " + interpret(current, *out).summary};
    }
    const std::string revision = parse_alembic_current(out->out);
    if (revision.empty()) {
        core::DatabaseState none;
        none.preview_error = "the database has no alembic revision";
        co_return none;
    }
    const core::Step preview = alembic_preview_step(settings_, revision, target.alembic_argument());
    auto sql = co_await spawn(preview);
    core::DatabaseState state;
    if (!sql) {
        state.preview_error = sql.error().message;
    } else if (!sql->success()) {
        state.preview_error = interpret(preview, *sql).summary;
    } else {
        state = parse_offline_downgrade(sql->out);
        if (state.downgrades.empty()) {
            state.preview_error = "alembic rendered no downgrade step";
            state.target.reset();
        }
    }
    state.revision = revision;
    co_return state;
}

core::Result<core::Plan> KubectlRunbook::plan(const core::RollbackRequest& request,
                                              const core::ClusterSnapshot& before) const {
    return plan_rollback(settings_, request, before);
}

boost::asio::awaitable<core::Result<actions::ProcessOutput>> KubectlRunbook::spawn(
    core::Step step) {
    actions::ProcessSpec spec;
    spec.argv = step.argv;
    spec.env = base_env_;
    spec.env.insert(spec.env.end(), step.env.begin(), step.env.end());
    spec.workdir = step.workdir;
    spec.timeout = step.timeout;
    if (step.effect == core::StepEffect::Wait && !step.deployment.empty()) {
        spec.group = "wait/" + step.deployment;
    }
    auto out = co_await runner_.run(std::move(spec));
    if (out) {
        log_->debug("runbook.step command=\"{}\" exit={} timed_out={} duration_ms={}",
                    core::display_command(step),
                    out->exit_code.value_or(-1),
                    out->timed_out,
                    out->duration.count());
    }
    co_return out;
}

boost::asio::awaitable<core::StepResult> KubectlRunbook::run(core::Step step) {
    auto out = co_await spawn(step);
    if (!out) {
        core::StepResult failed;
        failed.outcome = core::StepOutcome::Failed;
        failed.summary = out.error().message;
        co_return failed;
    }
    co_return interpret(step, *out);
}

boost::asio::awaitable<core::Result<std::string>> KubectlRunbook::read(core::Step step) {
    auto out = co_await spawn(step);
    if (!out) {
        co_return out.error();
    }
    if (!out->success()) {
        co_return core::Error{core::ErrorKind::ProcessFailed,
                              core::display_command(step) + ": " + interpret(step, *out).summary};
    }
    co_return std::move(out->out);
}

boost::asio::awaitable<core::PodsCheck> KubectlRunbook::observe_pods(std::string deployment) {
    core::PodsCheck check;
    check.deployment = deployment;
    auto state = co_await observe_revision(deployment);
    if (!state) {
        check.error = state.error().message;
        co_return check;
    }
    auto replicasets = co_await read(replicasets_step(settings_, deployment));
    if (!replicasets) {
        check.error = replicasets.error().message;
        co_return check;
    }
    const std::string hash = current_replicaset_hash(*replicasets, deployment, *state);
    if (hash.empty()) {
        check.error = "no ReplicaSet of " + deployment + " has revision " + std::to_string(*state);
        co_return check;
    }
    auto pods = co_await read(pods_step(settings_, deployment, hash));
    if (!pods) {
        check.error = pods.error().message;
        co_return check;
    }
    check = parse_pods(deployment, *pods, hash);
    check.revision = *state;
    // Events only back up the pods' own fields: without them the check still stands.
    auto events = co_await read(warning_events_step(settings_, deployment));
    if (events) {
        check.warnings = parse_warning_events(*events, deployment + "-" + hash);
    } else {
        log_->warn(
            "runbook.events_unreadable deployment={} error={}", deployment, events.error().message);
    }
    co_return check;
}

boost::asio::awaitable<core::Result<std::int64_t>> KubectlRunbook::observe_revision(
    std::string deployment) {
    auto it = settings_.kubernetes.deployments.find(deployment);
    if (it == settings_.kubernetes.deployments.end()) {
        co_return core::Error{core::ErrorKind::Invalid, deployment + " is not configured"};
    }
    auto json = co_await read(observe_step(settings_, deployment));
    if (!json) {
        co_return json.error();
    }
    auto state = parse_deployment(*json, it->second.container);
    if (!state) {
        co_return state.error();
    }
    co_return state->revision;
}

void KubectlRunbook::stop_waiting(const std::string& deployment) {
    runner_.cancel_group("wait/" + deployment);
}

void KubectlRunbook::cancel_all() {
    runner_.cancel_all();
}

}  // namespace rollbot::actions
