#include "actions/planner.hpp"

#include "actions/history.hpp"
#include "actions/kubectl.hpp"

#include <fmt/format.h>

namespace rollbot::actions {
namespace {

using core::Phase;
using core::Step;
using core::StepEffect;
using core::StepKind;
// clang-tidy 14 does not see uses of a literal operator (misc-unused-using-decls).
using std::chrono_literals::operator""s;  // NOLINT(misc-unused-using-decls)

// kubectl's own --timeout fires first, so its message ("timed out waiting for the condition")
// is what people see; the process timeout is only the backstop.
constexpr core::Duration kRolloutBackstop = 30s;
constexpr core::Duration kKubectlTimeout = 60s;

std::string seconds(core::Duration d) {
    return fmt::format("{}s", std::chrono::duration_cast<std::chrono::seconds>(d).count());
}

core::Result<const core::DeploymentSettings*> deployment(const core::Settings& s,
                                                         const std::string& name) {
    auto it = s.kubernetes.deployments.find(name);
    if (it == s.kubernetes.deployments.end()) {
        return core::Error{
            core::ErrorKind::Invalid,
            fmt::format("{} is not configured (kubernetes.deployments.{})", name, name)};
    }
    return &it->second;
}

Step kubectl_step(const core::Settings& s,
                  std::vector<std::string> args,
                  StepKind kind,
                  StepEffect effect,
                  Phase phase,
                  const std::string& deployment_name) {
    Step step;
    step.argv = kubectl_argv(s.kubernetes, std::move(args));
    step.kind = kind;
    step.effect = effect;
    step.phase = phase;
    step.timeout = kKubectlTimeout;
    step.deployment = deployment_name;
    return step;
}

Step script_step(const core::Settings& s,
                 const core::RollbackRequest& r,
                 std::vector<std::string> args) {
    Step step;
    step.argv = {"bash", s.script.path};
    step.argv.insert(step.argv.end(), args.begin(), args.end());
    if (r.dry_run) {
        step.env.emplace_back("DRY_RUN", "true");
    }
    step.workdir = s.script.workdir;
    step.timeout = s.script.timeout;
    step.kind = StepKind::RollbackScript;
    step.effect = r.dry_run ? StepEffect::Read : StepEffect::Change;
    step.phase = Phase::Script;
    return step;
}

// `<sha>` that is in the deployment's history: roll back to that known-good ReplicaSet.
core::Result<std::optional<core::RevisionInfo>> revision_for(const core::RollbackRequest& r,
                                                             const std::string& name,
                                                             const core::ClusterSnapshot& before) {
    auto it = before.deployments.find(name);
    if (!r.sha || it == before.deployments.end() || !it->second.history_known) {
        return std::optional<core::RevisionInfo>{};
    }
    auto found = revisions_with_sha(it->second.history, *r.sha, it->second.revision);
    if (found.size() > 1) {
        std::string candidates;
        for (const auto& f : found) {
            candidates += fmt::format(
                "{}revision {} ({})", candidates.empty() ? "" : ", ", f.revision, f.tag);
        }
        return core::Error{core::ErrorKind::Invalid,
                           fmt::format("{} matches more than one revision of {}: {}. Give more of "
                                       "the SHA.",
                                       *r.sha,
                                       name,
                                       candidates)};
    }
    if (found.empty()) {
        return std::optional<core::RevisionInfo>{};
    }
    return std::optional<core::RevisionInfo>{found.front()};
}

core::Result<std::vector<Step>> deployment_steps(const core::Settings& s,
                                                 const core::RollbackRequest& r,
                                                 const std::string& name,
                                                 const core::ClusterSnapshot& before,
                                                 std::vector<std::string>& notes) {
    auto d = deployment(s, name);
    if (!d) {
        return d.error();
    }
    const std::string& ns = s.kubernetes.namespace_name;
    const std::string target = "deployment/" + name;
    std::vector<Step> steps;
    std::vector<std::string> change;
    StepKind kind = StepKind::KubectlUndo;
    auto known = revision_for(r, name, before);
    if (!known) {
        return known.error();
    }
    if (*known) {
        change = {"rollout",
                  "undo",
                  target,
                  "-n",
                  ns,
                  fmt::format("--to-revision={}", (*known)->revision)};
        notes.push_back(
            fmt::format("{} is revision {} of {} (a known-good ReplicaSet), so "
                        "rollbot rolls back to it instead of setting the image",
                        (*known)->tag,
                        (*known)->revision,
                        name));
    } else if (r.sha) {
        change = {"set",
                  "image",
                  target,
                  fmt::format("{}={}:{}", (*d)->container, (*d)->image, *r.sha),
                  "-n",
                  ns};
        kind = StepKind::KubectlSetImage;
    } else {
        change = {"rollout", "undo", target, "-n", ns};
    }
    if (r.dry_run) {
        change.emplace_back("--dry-run=server");
    }
    steps.push_back(kubectl_step(s,
                                 std::move(change),
                                 kind,
                                 r.dry_run ? StepEffect::Read : StepEffect::Change,
                                 Phase::Script,
                                 name));
    if (r.dry_run) {
        notes.push_back(
            fmt::format("kubectl rollout status {} (nothing rolls out in a dry run)", target));
        return steps;
    }
    auto status = kubectl_step(
        s,
        {"rollout", "status", target, "-n", ns, "--timeout=" + seconds((*d)->rollout_timeout)},
        StepKind::KubectlRolloutStatus,
        StepEffect::Wait,
        Phase::Rollout,
        name);
    status.timeout = (*d)->rollout_timeout + kRolloutBackstop;
    steps.push_back(std::move(status));
    return steps;
}

std::vector<std::string> alembic_args(const core::Settings& s, std::vector<std::string> tail) {
    std::vector<std::string> args{"exec",
                                  "-n",
                                  s.kubernetes.namespace_name,
                                  s.migrations.exec_target,
                                  "-c",
                                  s.migrations.container,
                                  "--"};
    args.insert(args.end(), s.migrations.alembic.begin(), s.migrations.alembic.end());
    args.insert(args.end(), tail.begin(), tail.end());
    return args;
}

// With the database read first (observe_database), the downgrade names the exact revision
// the approvers saw, so `-1` can never mean something else by the time it runs.
core::Result<std::vector<Step>> db_steps(const core::Settings& s,
                                         const core::RollbackRequest& r,
                                         const core::ClusterSnapshot& before,
                                         std::vector<std::string>& notes) {
    const std::string requested = r.db ? r.db->alembic_argument() : "-1";
    const auto& db = before.database;
    if (db && db->revision.empty()) {
        return core::Error{core::ErrorKind::Invalid,
                           "the database has no alembic revision: there is nothing to downgrade"};
    }
    const std::string target = db && db->target ? *db->target : requested;
    std::vector<Step> steps;
    steps.push_back(alembic_current_step(s));
    if (r.dry_run) {
        // Offline mode renders the SQL without touching the database (reference §5); it needs
        // an explicit range.
        steps.push_back(alembic_preview_step(s, db ? db->revision : "head", requested));
        notes.emplace_back("alembic downgrade (a dry run only renders the SQL)");
        return steps;
    }
    steps.push_back(kubectl_step(s,
                                 alembic_args(s, {"downgrade", target}),
                                 StepKind::AlembicDowngrade,
                                 StepEffect::Change,
                                 Phase::Migration,
                                 {}));
    return steps;
}

}  // namespace

core::Step alembic_current_step(const core::Settings& settings) {
    return kubectl_step(settings,
                        alembic_args(settings, {"current"}),
                        StepKind::AlembicCurrent,
                        StepEffect::Read,
                        Phase::Migration,
                        {});
}

core::Step alembic_preview_step(const core::Settings& settings,
                                const std::string& from,
                                const std::string& target) {
    return kubectl_step(settings,
                        alembic_args(settings, {"downgrade", from + ":" + target, "--sql"}),
                        StepKind::AlembicPreview,
                        StepEffect::Read,
                        Phase::Migration,
                        {});
}

namespace {

// A read of one deployment: `kubectl <verb…> -n <ns> -o json`.
core::Step json_read(const core::Settings& settings,
                     std::vector<std::string> verb,
                     std::string_view name) {
    verb.insert(verb.end(), {"-n", settings.kubernetes.namespace_name, "-o", "json"});
    return kubectl_step(settings,
                        std::move(verb),
                        StepKind::Generic,
                        StepEffect::Read,
                        Phase::Observe,
                        std::string(name));
}

}  // namespace

core::Step history_step(const core::Settings& settings, std::string_view name) {
    return json_read(settings, {"rollout", "history", "deployment/" + std::string(name)}, name);
}

core::Step observe_step(const core::Settings& settings, std::string_view name) {
    return json_read(settings, {"get", "deployment", std::string(name)}, name);
}

core::Step replicasets_step(const core::Settings& settings, std::string_view name) {
    return json_read(settings, {"get", "replicasets"}, name);
}

core::Step pods_step(const core::Settings& settings,
                     std::string_view name,
                     std::string_view pod_template_hash) {
    return json_read(settings,
                     {"get", "pods", "-l", "pod-template-hash=" + std::string(pod_template_hash)},
                     name);
}

core::Step warning_events_step(const core::Settings& settings, std::string_view name) {
    return json_read(settings,
                     {"get", "events", "--field-selector", "type=Warning,involvedObject.kind=Pod"},
                     name);
}

core::Result<core::Plan> plan_rollback(const core::Settings& s,
                                       const core::RollbackRequest& r,
                                       const core::ClusterSnapshot& before) {
    core::Plan plan;
    plan.request = r;
    plan.before = before;
    switch (r.action) {
        case core::ActionKind::Full:
        case core::ActionKind::Sha:
            plan.steps.push_back(script_step(
                s, r, r.sha ? std::vector<std::string>{*r.sha} : std::vector<std::string>{}));
            break;
        case core::ActionKind::Frontend:
            if (!r.sha) {
                plan.steps.push_back(script_step(s, r, {"--frontend-only"}));
                break;
            }
            [[fallthrough]];
        case core::ActionKind::Backend: {
            auto steps =
                deployment_steps(s,
                                 r,
                                 r.action == core::ActionKind::Backend ? "backend" : "frontend",
                                 before,
                                 plan.notes);
            if (!steps) {
                return steps.error();
            }
            plan.steps = std::move(*steps);
            break;
        }
        case core::ActionKind::Db: {
            auto steps = db_steps(s, r, before, plan.notes);
            if (!steps) {
                return steps.error();
            }
            plan.steps = std::move(*steps);
            break;
        }
    }
    plan.id = core::plan_digest(r, before, plan.steps);
    return plan;
}

}  // namespace rollbot::actions
