#include "bot/plan.hpp"

#include <gtest/gtest.h>

namespace rollbot::core {
namespace {

TEST(DisplayCommand, QuotesOnlyWhatAShellWouldSplit) {
    Step s;
    s.argv = {"kubectl", "rollout", "undo", "deployment/backend", "-n", "preskool"};
    EXPECT_EQ(display_command(s), "kubectl rollout undo deployment/backend -n preskool");
    s.argv = {"kubectl", "annotate", "x", "kubernetes.io/change-cause=rollback by alice", "it's"};
    EXPECT_EQ(display_command(s),
              "kubectl annotate x 'kubernetes.io/change-cause=rollback by alice' 'it'\\''s'");
    s.argv = {"/usr/local/bin/kubectl", "get", "pods"};
    s.env = {};
    EXPECT_EQ(display_command(s), "kubectl get pods") << "the program as people type it";
    s.argv = {"bash", "scripts/rollback.sh"};
    s.env = {{"DRY_RUN", "true"}};
    EXPECT_EQ(display_command(s), "DRY_RUN=true bash scripts/rollback.sh");
}

TEST(PlanDigest, ChangesWhenTheClusterOrTheStepsChange) {
    RollbackRequest r{ActionKind::Backend, std::string("abc1234f"), std::nullopt, false};
    ClusterSnapshot before;
    DeploymentState backend;
    backend.name = "backend";
    backend.image = "repo:e4d5c6b7";
    backend.tag = "e4d5c6b7";
    backend.revision = 3;
    before.deployments["backend"] = backend;
    Step step;
    step.argv = {"kubectl", "set", "image"};
    const auto a = plan_digest(r, before, {step});
    EXPECT_EQ(a.size(), 8U);
    EXPECT_EQ(a, plan_digest(r, before, {step})) << "stable";

    auto moved = before;
    moved.deployments["backend"].revision = 4;
    EXPECT_NE(a, plan_digest(r, moved, {step}));

    auto other_step = step;
    other_step.argv.push_back("--dry-run=server");
    EXPECT_NE(a, plan_digest(r, before, {other_step}));

    auto dry = r;
    dry.dry_run = true;
    EXPECT_NE(a, plan_digest(dry, before, {step}));
}

TEST(AffectedDeployments, FollowTheRunbookTypes) {
    EXPECT_EQ(affected_deployments(ActionKind::Backend), std::vector<std::string>{"backend"});
    EXPECT_EQ(affected_deployments(ActionKind::Frontend), std::vector<std::string>{"frontend"});
    EXPECT_EQ(affected_deployments(ActionKind::Full),
              (std::vector<std::string>{"backend", "frontend"}));
    EXPECT_EQ(affected_deployments(ActionKind::Sha),
              (std::vector<std::string>{"backend", "frontend"}));
    EXPECT_TRUE(affected_deployments(ActionKind::Db).empty());
}

}  // namespace
}  // namespace rollbot::core
