#include "config/reload.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace rollbot::config {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

core::Settings base() {
    core::Settings s;
    s.slack.incidents_channel = core::ChannelId{"C0INCIDENTS"};
    s.kubernetes.deployments["backend"] = {
        "backend", "ghcr.io/x/backend", std::chrono::seconds(120)};
    s.kubernetes.kubeconfig = "/etc/rollbot/kubeconfig";
    return s;
}

TEST(Reload, SameSettingsChangeNothing) {
    EXPECT_TRUE(diff_settings(base(), base()).empty());
}

TEST(Reload, LiveSectionsAreAppliedAndNamed) {
    auto running = base();
    auto fresh = base();
    fresh.access.operators.users.push_back(core::UserId{"U0ALICE"});
    fresh.verify.max_error_rate = 0.05;
    fresh.kubernetes.deployments["backend"].rollout_timeout = std::chrono::seconds(300);
    const auto change = diff_settings(running, fresh);
    EXPECT_THAT(change.applied, ElementsAre("access", "kubernetes", "verify"));
    EXPECT_THAT(change.need_restart, IsEmpty());
    apply_live(running, fresh);
    EXPECT_EQ(running, fresh);
}

TEST(Reload, StartUpKeysAreReportedAndKept) {
    auto running = base();
    auto fresh = base();
    fresh.http.port = 9999;
    fresh.state.path = "/elsewhere/state.db";
    fresh.kubernetes.kubeconfig = "/other/kubeconfig";
    fresh.tokens.bot_token = core::Secret{"xoxb-new"};
    fresh.approvals[core::ActionKind::Db].required = 2;
    const auto change = diff_settings(running, fresh);
    EXPECT_THAT(change.applied, ElementsAre("approvals"));
    EXPECT_THAT(change.need_restart,
                ElementsAre("kubernetes.kubeconfig",
                            "state.path",
                            "http.listen",
                            "tokens (SLACK_APP_TOKEN / SLACK_BOT_TOKEN)"));
    apply_live(running, fresh);
    EXPECT_EQ(running.approvals.at(core::ActionKind::Db).required, 2);
    EXPECT_EQ(running.http.port, 8080);
    EXPECT_EQ(running.state.path, base().state.path);
    EXPECT_EQ(running.kubernetes.kubeconfig, "/etc/rollbot/kubeconfig");
    EXPECT_EQ(running.tokens, base().tokens);
    EXPECT_THAT(diff_settings(running, fresh).applied, IsEmpty()) << "applied once, not again";
}

}  // namespace
}  // namespace rollbot::config
