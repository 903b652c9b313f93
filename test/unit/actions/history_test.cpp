#include "actions/history.hpp"

#include "actions/planner.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace rollbot::actions {
namespace {

using ::testing::HasSubstr;

// Two ReplicaSet documents, concatenated as `kubectl rollout history -o json` prints them
// (reference §1.3), the second with a change-cause and a brace inside a string.
constexpr std::string_view kHistory = R"({
    "kind": "ReplicaSet",
    "metadata": {"name": "backend-aaa", "creationTimestamp": "2026-11-20T10:00:00Z",
                 "annotations": {"deployment.kubernetes.io/revision": "2"}},
    "spec": {"template": {"spec": {"containers": [
        {"name": "sidecar", "image": "envoy:1.30"},
        {"name": "backend", "image": "ghcr.io/your-org/preskool-backend:abc1234f"}]}}}
}
{
    "kind": "ReplicaSet",
    "metadata": {"name": "backend-bbb", "creationTimestamp": "2026-11-24T01:00:00Z",
                 "annotations": {"deployment.kubernetes.io/revision": "3",
                                 "kubernetes.io/change-cause": "deploy e4d5c6b7 {hotfix}"}},
    "spec": {"template": {"spec": {"containers": [
        {"name": "backend", "image": "ghcr.io/your-org/preskool-backend:e4d5c6b7"}]}}}
}
)";

TEST(RolloutHistory, ReadsEveryRevisionOfConcatenatedDocuments) {
    auto history = parse_rollout_history(kHistory, "backend");
    ASSERT_TRUE(history.has_value()) << history.error().message;
    ASSERT_EQ(history->size(), 2U);
    EXPECT_EQ((*history)[0].revision, 2);
    EXPECT_EQ((*history)[0].tag, "abc1234f") << "the configured container, not the sidecar";
    EXPECT_EQ((*history)[0].created, "2026-11-20T10:00:00Z");
    EXPECT_EQ((*history)[1].change_cause, "deploy e4d5c6b7 {hotfix}");
}

TEST(RolloutHistory, NoHistoryAndGarbage) {
    auto none = parse_rollout_history("", "backend");
    ASSERT_TRUE(none.has_value());
    EXPECT_TRUE(none->empty());
    auto truncated = parse_rollout_history("{\"kind\": ", "backend");
    ASSERT_TRUE(truncated.has_value());
    EXPECT_TRUE(truncated->empty()) << "an unfinished document is not a revision";
    EXPECT_FALSE(parse_rollout_history("{not json}", "backend").has_value());
}

TEST(RevisionsWithSha, PrefixEitherWayNewestFirstNeverTheCurrent) {
    auto history = *parse_rollout_history(kHistory, "backend");
    auto found = revisions_with_sha(history, "abc1234", 3);
    ASSERT_EQ(found.size(), 1U);
    EXPECT_EQ(found[0].revision, 2);
    EXPECT_EQ(revisions_with_sha(history, "abc1234f0123456789abcdef", 3).size(), 1U)
        << "a full SHA finds the short tag";
    EXPECT_TRUE(revisions_with_sha(history, "e4d5c6b7", 3).empty()) << "that is what runs now";
    EXPECT_TRUE(revisions_with_sha(history, "1234567", 3).empty());
}

core::Settings backend_settings() {
    core::Settings s;
    s.kubernetes.kubectl = "kubectl";
    s.kubernetes.deployments["backend"] =
        core::DeploymentSettings{"backend", "ghcr.io/your-org/preskool-backend", {}};
    return s;
}

core::ClusterSnapshot with_history() {
    core::DeploymentState state;
    state.name = "backend";
    state.tag = "e4d5c6b7";
    state.revision = 3;
    state.history = *parse_rollout_history(kHistory, "backend");
    state.history_known = true;
    core::ClusterSnapshot before;
    before.deployments["backend"] = state;
    return before;
}

TEST(PlannerSha, KnownShaIsUndoToThatRevision) {
    core::RollbackRequest r;
    r.action = core::ActionKind::Backend;
    r.sha = "abc1234";
    auto plan = plan_rollback(backend_settings(), r, with_history());
    ASSERT_TRUE(plan.has_value());
    EXPECT_EQ(plan->steps[0].argv,
              (std::vector<std::string>{"kubectl",
                                        "rollout",
                                        "undo",
                                        "deployment/backend",
                                        "-n",
                                        "preskool",
                                        "--to-revision=2"}));
    ASSERT_FALSE(plan->notes.empty());
    EXPECT_THAT(plan->notes[0], HasSubstr("known-good ReplicaSet"));
}

TEST(PlannerSha, UnknownShaOrUnreadableHistoryIsSetImage) {
    core::RollbackRequest r;
    r.action = core::ActionKind::Backend;
    r.sha = "0a1b2c3d";
    auto plan = plan_rollback(backend_settings(), r, with_history());
    ASSERT_TRUE(plan.has_value());
    EXPECT_EQ(plan->steps[0].argv[1], "set");
    auto unread = with_history();
    unread.deployments["backend"].history_known = false;
    r.sha = "abc1234";
    plan = plan_rollback(backend_settings(), r, unread);
    ASSERT_TRUE(plan.has_value());
    EXPECT_EQ(plan->steps[0].argv[1], "set");
}

TEST(PlannerSha, AmbiguousPrefixIsRefusedWithTheCandidates) {
    auto before = with_history();
    auto extra = before.deployments["backend"].history[0];
    extra.revision = 1;
    extra.tag = "abc1234e";
    before.deployments["backend"].history.insert(before.deployments["backend"].history.begin(),
                                                 extra);
    core::RollbackRequest r;
    r.action = core::ActionKind::Backend;
    r.sha = "abc1234";
    auto plan = plan_rollback(backend_settings(), r, before);
    ASSERT_FALSE(plan.has_value());
    EXPECT_THAT(plan.error().message, HasSubstr("revision 2 (abc1234f), revision 1 (abc1234e)"));
}

}  // namespace
}  // namespace rollbot::actions
