#include "test/support/fake_runbook.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace rollbot::test {

namespace asio = boost::asio;
using core::Phase;
using core::Step;
using core::StepEffect;
using core::StepKind;

namespace {

Step make_step(std::vector<std::string> argv,
               Phase phase,
               StepEffect effect,
               StepKind kind,
               std::string deployment = {}) {
    Step s;
    s.argv = std::move(argv);
    s.timeout = std::chrono::seconds(60);
    s.phase = phase;
    s.effect = effect;
    s.kind = kind;
    s.deployment = std::move(deployment);
    return s;
}

std::vector<Step> deployment_steps(const std::string& name) {
    return {make_step({"kubectl", "rollout", "undo", "deployment/" + name, "-n", "preskool"},
                      Phase::Script,
                      StepEffect::Change,
                      StepKind::KubectlUndo,
                      name),
            make_step({"kubectl", "rollout", "status", "deployment/" + name, "-n", "preskool"},
                      Phase::Rollout,
                      StepEffect::Wait,
                      StepKind::KubectlRolloutStatus,
                      name)};
}

}  // namespace

core::DeploymentState deployment(std::string name,
                                 std::int64_t revision,
                                 std::string tag,
                                 int desired) {
    core::DeploymentState s;
    s.image = "ghcr.io/your-org/preskool-" + name + ":" + tag;
    s.name = std::move(name);
    s.tag = std::move(tag);
    s.revision = revision;
    s.desired = desired;
    s.updated = desired;
    s.ready = desired;
    s.available = desired;
    return s;
}

FakeRunbook::FakeRunbook(asio::any_io_executor executor) : executor_(std::move(executor)) {
    set_deployment(deployment("backend", 3, "e4d5c6b7"));
    set_deployment(deployment("frontend", 5, "5e6f7a8b"));
    core::DatabaseState db;
    db.revision = "3f2a1b4c5d6e";
    db.target = "ae1027a6acf";
    db.downgrades = {"3f2a1b4c5d6e -> ae1027a6acf"};
    db.sql = "ALTER TABLE students DROP COLUMN nickname;";
    database_ = db;
}

void FakeRunbook::set_deployment(core::DeploymentState state) {
    deployments_[state.name] = std::move(state);
}

void FakeRunbook::set_unreadable(const std::string& deployment, bool unreadable) {
    unreadable_[deployment] = unreadable;
}

void FakeRunbook::set_database(std::optional<core::DatabaseState> database) {
    database_ = std::move(database);
}

void FakeRunbook::set_result(StepKind kind, core::StepResult result) {
    results_[kind] = std::move(result);
}

void FakeRunbook::queue_pods(const std::string& deployment, core::PodsCheck check) {
    check.deployment = deployment;
    pods_[deployment].push_back(std::move(check));
}

void FakeRunbook::hold(StepKind kind) {
    held_[kind] =
        Held{std::make_shared<asio::steady_timer>(executor_, asio::steady_timer::time_point::max()),
             false,
             false,
             {},
             {}};
}

void FakeRunbook::hold(StepKind kind, std::string deployment) {
    hold(kind);
    held_[kind].only = std::move(deployment);
}

void FakeRunbook::set_deployment_after(StepKind kind, core::DeploymentState state) {
    after_[kind] = std::move(state);
}

void FakeRunbook::release(StepKind kind) {
    open_gate(kind, false);
}

void FakeRunbook::open_gate(StepKind kind, bool cancelled) {
    auto it = held_.find(kind);
    if (it == held_.end()) {
        return;
    }
    it->second.cancelled = cancelled;
    it->second.gate->cancel();
}

std::size_t FakeRunbook::ran(StepKind kind) const {
    std::size_t n = 0;
    for (const auto& s : steps_run_) {
        n += s.kind == kind ? 1 : 0;
    }
    return n;
}

bool FakeRunbook::waiting(StepKind kind) const {
    auto it = held_.find(kind);
    return it != held_.end() && it->second.waiting;
}

asio::awaitable<core::Result<core::DeploymentState>> FakeRunbook::observe(std::string deployment) {
    if (unreadable_[deployment]) {
        co_return core::Error{core::ErrorKind::ProcessFailed,
                              "kubectl get deployment " + deployment + ": connection refused"};
    }
    auto it = deployments_.find(deployment);
    if (it == deployments_.end()) {
        co_return core::Error{core::ErrorKind::NotFound, "deployment " + deployment + " not found"};
    }
    co_return it->second;
}

asio::awaitable<core::Result<core::DatabaseState>> FakeRunbook::observe_database(
    core::DbTarget /*target*/) {
    if (!database_) {
        co_return core::Error{core::ErrorKind::ProcessFailed, "alembic current: exit 1"};
    }
    co_return *database_;
}

core::Result<core::Plan> FakeRunbook::plan(const core::RollbackRequest& request,
                                           const core::ClusterSnapshot& before) const {
    std::vector<Step> steps;
    switch (request.action) {
        case core::ActionKind::Backend:
            steps = deployment_steps("backend");
            break;
        case core::ActionKind::Frontend:
            steps = deployment_steps("frontend");
            break;
        case core::ActionKind::Full:
        case core::ActionKind::Sha:
            steps = {make_step({"bash", "scripts/rollback.sh"},
                               Phase::Script,
                               StepEffect::Change,
                               StepKind::RollbackScript)};
            break;
        case core::ActionKind::Db:
            if (!before.database) {
                return core::Error{core::ErrorKind::Invalid, "no database state"};
            }
            steps = {make_step({"kubectl",
                                "exec",
                                "deployment/backend",
                                "--",
                                "alembic",
                                "downgrade",
                                request.db.value_or(core::DbTarget{}).alembic_argument()},
                               Phase::Migration,
                               StepEffect::Change,
                               StepKind::AlembicDowngrade)};
            break;
    }
    if (request.dry_run) {
        for (auto& s : steps) {
            s.effect = StepEffect::Read;
            s.env.emplace_back("DRY_RUN", "true");
        }
    }
    core::Plan plan;
    plan.id = core::plan_digest(request, before, steps);
    plan.request = request;
    plan.before = before;
    plan.steps = std::move(steps);
    return plan;
}

asio::awaitable<core::PodsCheck> FakeRunbook::observe_pods(std::string deployment) {
    ++pods_calls_;
    auto& queued = pods_[deployment];
    if (!queued.empty()) {
        core::PodsCheck check = queued.front();
        if (queued.size() > 1) {
            queued.pop_front();
        }
        co_return check;
    }
    core::PodsCheck check;
    check.deployment = deployment;
    if (auto it = deployments_.find(deployment); it != deployments_.end()) {
        check.revision = it->second.revision;
        for (int i = 0; i < it->second.desired; ++i) {
            check.pods.push_back(core::PodState{
                deployment + "-7c9d-" + std::to_string(i), "Running", true, 0, "", ""});
        }
    }
    co_return check;
}

asio::awaitable<core::StepResult> FakeRunbook::run(Step step) {
    steps_run_.push_back(step);
    const StepKind kind = step.kind;
    core::StepResult result;
    result.outcome = core::StepOutcome::Succeeded;
    result.exit_code = 0;
    result.duration = std::chrono::milliseconds(10);
    result.output_digest = std::string(64, '0');
    if (auto it = results_.find(kind); it != results_.end()) {
        result = it->second;
    }
    if (auto it = held_.find(kind);
        it != held_.end() && (it->second.only.empty() || it->second.only == step.deployment)) {
        const auto gate = it->second.gate;
        it->second.waiting = true;
        it->second.deployment = step.deployment;
        co_await gate->async_wait(asio::as_tuple(asio::use_awaitable));
        const bool cancelled = held_[kind].cancelled;
        held_.erase(kind);
        if (cancelled) {
            result.outcome = core::StepOutcome::Cancelled;
            result.exit_code.reset();
            result.summary = "stopped";
        }
    }
    if (auto it = after_.find(kind); it != after_.end() && result.ok()) {
        set_deployment(it->second);
    }
    co_return result;
}

void FakeRunbook::stop_waiting(const std::string& deployment) {
    stopped_.push_back(deployment);
    auto it = held_.find(StepKind::KubectlRolloutStatus);
    if (it != held_.end() && it->second.deployment == deployment) {
        open_gate(StepKind::KubectlRolloutStatus, true);
    }
}

void FakeRunbook::cancel_all() {
    ++cancel_all_calls_;
    std::vector<StepKind> kinds;
    for (const auto& [kind, held] : held_) {
        if (held.waiting) {
            kinds.push_back(kind);
        }
    }
    for (auto kind : kinds) {
        open_gate(kind, true);
    }
}

}  // namespace rollbot::test
