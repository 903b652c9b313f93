#include "bot/secret.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace rollbot::core {
namespace {

TEST(Secret, FormatsAsStars) {
    Secret s{"xoxb-123-456-abcdef"};
    EXPECT_EQ(fmt::format("token={}", s), "token=***");
    EXPECT_EQ(s.reveal(), "xoxb-123-456-abcdef");
}

TEST(Redact, MasksEverySlackTokenKind) {
    EXPECT_EQ(redact("auth xoxb-1111-2222-AbCd ok"), "auth xoxb-*** ok");
    EXPECT_EQ(redact("Bearer xapp-1-A0-99-ff"), "Bearer xapp-***");
    EXPECT_EQ(redact("xoxp-1 and xoxe-2"), "xoxp-*** and xoxe-***");
}

TEST(Redact, MasksSocketModeTickets) {
    EXPECT_EQ(redact("wss://wss-primary.slack.com/link/?ticket=1234-abcd&app_id=A1"),
              "wss://wss-primary.slack.com/link/?ticket=***&app_id=A1");
}

TEST(Redact, LeavesOrdinaryTextAlone) {
    EXPECT_EQ(redact("kubectl rollout undo deployment/backend"),
              "kubectl rollout undo deployment/backend");
}

}  // namespace
}  // namespace rollbot::core
