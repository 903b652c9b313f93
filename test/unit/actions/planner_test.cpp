#include "actions/planner.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace rollbot::actions {
namespace {

using core::ActionKind;
using core::Phase;
using core::RollbackRequest;
using core::StepEffect;
using core::StepKind;
using ::testing::ElementsAre;
using Argv = std::vector<std::string>;

core::Settings settings() {
    core::Settings s;
    s.kubernetes.kubectl = "/usr/bin/kubectl";
    s.kubernetes.namespace_name = "preskool";
    s.kubernetes.deployments["backend"] = {
        "backend", "ghcr.io/your-org/preskool-backend", std::chrono::seconds(120)};
    s.kubernetes.deployments["frontend"] = {
        "frontend", "ghcr.io/your-org/preskool-frontend", std::chrono::seconds(60)};
    s.script.path = "/srv/preskool/scripts/rollback.sh";
    s.script.workdir = "/srv/preskool";
    s.script.timeout = std::chrono::minutes(10);
    return s;
}

core::Plan plan(const core::Settings& s, RollbackRequest r) {
    auto p = plan_rollback(s, r, core::ClusterSnapshot{});
    EXPECT_TRUE(p.has_value()) << (p ? "" : p.error().message);
    return p ? *p : core::Plan{};
}

RollbackRequest request(ActionKind kind,
                        std::optional<std::string> sha = std::nullopt,
                        bool dry_run = false) {
    RollbackRequest r;
    r.action = kind;
    r.sha = std::move(sha);
    r.dry_run = dry_run;
    if (kind == ActionKind::Db) {
        r.db = core::DbTarget{};
    }
    return r;
}

TEST(Planner, BackendWithoutShaIsUndoThenRolloutStatus) {
    auto p = plan(settings(), request(ActionKind::Backend));
    ASSERT_EQ(p.steps.size(), 2U);
    EXPECT_EQ(
        p.steps[0].argv,
        (Argv{"/usr/bin/kubectl", "rollout", "undo", "deployment/backend", "-n", "preskool"}));
    EXPECT_EQ(p.steps[0].kind, StepKind::KubectlUndo);
    EXPECT_EQ(p.steps[0].effect, StepEffect::Change);
    EXPECT_EQ(p.steps[0].phase, Phase::Script);
    EXPECT_EQ(p.steps[1].argv,
              (Argv{"/usr/bin/kubectl",
                    "rollout",
                    "status",
                    "deployment/backend",
                    "-n",
                    "preskool",
                    "--timeout=120s"}));
    EXPECT_EQ(p.steps[1].phase, Phase::Rollout);
    EXPECT_GT(p.steps[1].timeout, std::chrono::seconds(120))
        << "kubectl's own --timeout must fire before the process backstop";
    EXPECT_EQ(p.id.size(), 8U);
}

TEST(Planner, BackendToAShaIsSetImage) {
    auto p = plan(settings(), request(ActionKind::Backend, "abc1234f"));
    ASSERT_EQ(p.steps.size(), 2U);
    EXPECT_EQ(p.steps[0].argv,
              (Argv{"/usr/bin/kubectl",
                    "set",
                    "image",
                    "deployment/backend",
                    "backend=ghcr.io/your-org/preskool-backend:abc1234f",
                    "-n",
                    "preskool"}));
    EXPECT_EQ(p.steps[0].kind, StepKind::KubectlSetImage);
    EXPECT_EQ(p.steps[1].argv.back(), "--timeout=120s");
}

TEST(Planner, FrontendWithoutShaUsesTheScript) {
    auto p = plan(settings(), request(ActionKind::Frontend));
    ASSERT_EQ(p.steps.size(), 1U);
    EXPECT_EQ(p.steps[0].argv,
              (Argv{"bash", "/srv/preskool/scripts/rollback.sh", "--frontend-only"}));
    EXPECT_EQ(p.steps[0].workdir, "/srv/preskool");
    EXPECT_EQ(p.steps[0].kind, StepKind::RollbackScript);
    EXPECT_TRUE(p.steps[0].env.empty());
}

TEST(Planner, FrontendToAShaIsSetImageWithItsOwnTimeout) {
    auto p = plan(settings(), request(ActionKind::Frontend, "5e6f7a8b"));
    ASSERT_EQ(p.steps.size(), 2U);
    EXPECT_EQ(p.steps[0].argv[4], "frontend=ghcr.io/your-org/preskool-frontend:5e6f7a8b");
    EXPECT_EQ(p.steps[1].argv.back(), "--timeout=60s");
}

TEST(Planner, FullAndShaRunTheScript) {
    auto full = plan(settings(), request(ActionKind::Full));
    ASSERT_EQ(full.steps.size(), 1U);
    EXPECT_EQ(full.steps[0].argv, (Argv{"bash", "/srv/preskool/scripts/rollback.sh"}));
    EXPECT_EQ(full.steps[0].timeout, std::chrono::minutes(10));
    auto sha = plan(settings(), request(ActionKind::Sha, "abc1234f"));
    EXPECT_EQ(sha.steps[0].argv, (Argv{"bash", "/srv/preskool/scripts/rollback.sh", "abc1234f"}));
}

TEST(Planner, DbIsAlembicThroughKubectlExec) {
    auto s = settings();
    s.migrations.alembic = {"alembic", "-c", "/app/alembic.ini"};
    auto r = request(ActionKind::Db);
    r.db = core::DbTarget{0, "ae1027a6acf"};
    auto p = plan(s, r);
    ASSERT_EQ(p.steps.size(), 2U);
    const Argv prefix{"/usr/bin/kubectl",
                      "exec",
                      "-n",
                      "preskool",
                      "deployment/backend",
                      "-c",
                      "backend",
                      "--",
                      "alembic",
                      "-c",
                      "/app/alembic.ini"};
    Argv current = prefix;
    current.push_back("current");
    EXPECT_EQ(p.steps[0].argv, current);
    EXPECT_EQ(p.steps[0].effect, StepEffect::Read);
    Argv downgrade = prefix;
    downgrade.insert(downgrade.end(), {"downgrade", "ae1027a6acf"});
    EXPECT_EQ(p.steps[1].argv, downgrade);
    EXPECT_EQ(p.steps[1].kind, StepKind::AlembicDowngrade);
    EXPECT_EQ(p.steps[1].effect, StepEffect::Change);
}

TEST(Planner, DryRunChangesNothing) {
    auto s = settings();
    auto undo = plan(s, request(ActionKind::Backend, std::nullopt, true));
    ASSERT_EQ(undo.steps.size(), 1U) << "no rollout status: nothing rolls out";
    EXPECT_EQ(undo.steps[0].argv.back(), "--dry-run=server");
    EXPECT_EQ(undo.steps[0].effect, StepEffect::Read);
    ASSERT_EQ(undo.notes.size(), 1U);
    EXPECT_THAT(undo.notes[0], ::testing::HasSubstr("rollout status"));

    auto set = plan(s, request(ActionKind::Backend, "abc1234f", true));
    EXPECT_EQ(set.steps[0].argv.back(), "--dry-run=server");

    auto full = plan(s, request(ActionKind::Full, std::nullopt, true));
    EXPECT_THAT(full.steps[0].env,
                ElementsAre(std::pair<std::string, std::string>{"DRY_RUN", "true"}));
    EXPECT_EQ(full.steps[0].effect, StepEffect::Read);

    auto db = plan(s, request(ActionKind::Db, std::nullopt, true));
    ASSERT_EQ(db.steps.size(), 2U);
    EXPECT_THAT(db.steps[1].argv, ::testing::IsSupersetOf({"downgrade", "head:-1", "--sql"}));
    for (const auto& step : db.steps) {
        EXPECT_EQ(step.effect, StepEffect::Read);
    }
}

TEST(Planner, KubeconfigAndContextComeFirst) {
    auto s = settings();
    s.kubernetes.kubeconfig = "/etc/rollbot/kubeconfig";
    s.kubernetes.context = "prod";
    auto p = plan(s, request(ActionKind::Backend));
    EXPECT_EQ(p.steps[0].argv,
              (Argv{"/usr/bin/kubectl",
                    "--kubeconfig=/etc/rollbot/kubeconfig",
                    "--context=prod",
                    "rollout",
                    "undo",
                    "deployment/backend",
                    "-n",
                    "preskool"}));
}

TEST(Planner, UnconfiguredDeploymentIsAnError) {
    auto s = settings();
    s.kubernetes.deployments.erase("frontend");
    auto p = plan_rollback(s, request(ActionKind::Frontend, "abc1234f"), {});
    ASSERT_FALSE(p.has_value());
    EXPECT_THAT(p.error().message, ::testing::HasSubstr("kubernetes.deployments.frontend"));
}

TEST(Planner, PlanIdDependsOnTheClusterState) {
    auto s = settings();
    core::ClusterSnapshot a;
    core::DeploymentState backend;
    backend.name = "backend";
    backend.image = "x:e4d5c6b7";
    backend.tag = "e4d5c6b7";
    backend.revision = 3;
    a.deployments["backend"] = backend;
    auto b = a;
    b.deployments["backend"].revision = 4;
    auto pa = plan_rollback(s, request(ActionKind::Backend), a);
    auto pb = plan_rollback(s, request(ActionKind::Backend), b);
    ASSERT_TRUE(pa && pb);
    EXPECT_NE(pa->id, pb->id);
}

TEST(Planner, ObserveReadsTheDeploymentAsJson) {
    auto step = observe_step(settings(), "backend");
    EXPECT_EQ(
        step.argv,
        (Argv{"/usr/bin/kubectl", "get", "deployment", "backend", "-n", "preskool", "-o", "json"}));
    EXPECT_EQ(step.effect, StepEffect::Read);
}

}  // namespace
}  // namespace rollbot::actions

namespace rollbot::actions {
namespace {

core::ClusterSnapshot database_at(std::string revision, std::optional<std::string> target) {
    core::ClusterSnapshot before;
    core::DatabaseState db;
    db.revision = std::move(revision);
    db.target = std::move(target);
    db.sql = "DROP TABLE fee_payments;";
    before.database = db;
    return before;
}

TEST(PlannerDb, DowngradeNamesTheRevisionThePreviewResolved) {
    const auto p = plan_rollback(
        settings(), request(ActionKind::Db), database_at("3f2a1b4c5d6e", "ae1027a6acf"));
    ASSERT_TRUE(p.has_value());
    ASSERT_EQ(p->steps.size(), 2U);
    EXPECT_EQ(p->steps[1].argv.back(), "ae1027a6acf") << "never a relative -1 at run time";
    EXPECT_EQ(p->steps[1].kind, StepKind::AlembicDowngrade);
}

TEST(PlannerDb, PlanIdChangesWhenTheDatabaseMoved) {
    const auto a = plan_rollback(
        settings(), request(ActionKind::Db), database_at("3f2a1b4c5d6e", "ae1027a6acf"));
    const auto b = plan_rollback(
        settings(), request(ActionKind::Db), database_at("ae1027a6acf", "1975ea83b712"));
    auto moved_sql = database_at("3f2a1b4c5d6e", "ae1027a6acf");
    moved_sql.database->sql = "DROP TABLE fee_payments; DROP TABLE students;";
    const auto c = plan_rollback(settings(), request(ActionKind::Db), moved_sql);
    ASSERT_TRUE(a && b && c);
    EXPECT_NE(a->id, b->id);
    EXPECT_NE(a->id, c->id) << "the same revisions with different SQL is a different plan";
    const auto again = plan_rollback(
        settings(), request(ActionKind::Db), database_at("3f2a1b4c5d6e", "ae1027a6acf"));
    EXPECT_EQ(a->id, again->id);
}

TEST(PlannerDb, EmptyDatabaseHasNothingToDowngrade) {
    const auto p =
        plan_rollback(settings(), request(ActionKind::Db), database_at("", std::nullopt));
    ASSERT_FALSE(p.has_value());
    EXPECT_THAT(p.error().message, ::testing::HasSubstr("nothing to downgrade"));
}

TEST(PlannerDb, DryRunPreviewStartsAtTheCurrentRevision) {
    const auto p = plan_rollback(settings(),
                                 request(ActionKind::Db, std::nullopt, true),
                                 database_at("3f2a1b4c5d6e", "ae1027a6acf"));
    ASSERT_TRUE(p.has_value());
    EXPECT_THAT(p->steps[1].argv,
                ::testing::IsSupersetOf({"downgrade", "3f2a1b4c5d6e:-1", "--sql"}));
    EXPECT_EQ(p->steps[1].effect, StepEffect::Read);
}

}  // namespace
}  // namespace rollbot::actions
