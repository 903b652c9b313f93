#include "bot/access_policy.hpp"

#include <gtest/gtest.h>

namespace rollbot::core {
namespace {

class AccessPolicy : public ::testing::Test {
protected:
    AccessPolicy() { settings_.slack.incidents_channel = ChannelId{"C0INCIDENTS"}; }
    AccessDecision decide(const char* channel,
                          UserInfo user,
                          CommandKind kind,
                          std::vector<UsergroupId> groups = {}) {
        return decide_access(settings_, ChannelId{channel}, user, kind, groups);
    }
    Settings settings_;
    UserInfo alice_{UserId{"U0ALICE"}, "alice", false, false};
};

TEST_F(AccessPolicy, EverythingIsRefusedOutsideTheIncidentsChannel) {
    for (auto kind : {CommandKind::Help, CommandKind::Status, CommandKind::Rollback}) {
        EXPECT_EQ(decide("C0RANDOM", alice_, kind).verdict, AccessVerdict::WrongChannel);
    }
}

TEST_F(AccessPolicy, NoOperatorsConfiguredMeansAnyoneInTheChannel) {
    EXPECT_EQ(decide("C0INCIDENTS", alice_, CommandKind::Rollback).verdict, AccessVerdict::Allowed);
}

TEST_F(AccessPolicy, OperatorsByUserOrUsergroup) {
    settings_.access.operators.users = {UserId{"U0BOB"}};
    settings_.access.operators.usergroups = {UsergroupId{"S0ONCALL"}};
    auto refused = decide("C0INCIDENTS", alice_, CommandKind::Rollback);
    EXPECT_EQ(refused.verdict, AccessVerdict::NotOperator);
    EXPECT_NE(refused.reason.find("access.operators"), std::string::npos);
    EXPECT_EQ(decide("C0INCIDENTS", alice_, CommandKind::Cancel).verdict,
              AccessVerdict::NotOperator);
    EXPECT_EQ(
        decide("C0INCIDENTS", alice_, CommandKind::Rollback, {UsergroupId{"S0ONCALL"}}).verdict,
        AccessVerdict::Allowed);
    EXPECT_EQ(
        decide("C0INCIDENTS", alice_, CommandKind::Rollback, {UsergroupId{"S0OTHER"}}).verdict,
        AccessVerdict::NotOperator);
    UserInfo bob{UserId{"U0BOB"}, "bob", false, false};
    EXPECT_EQ(decide("C0INCIDENTS", bob, CommandKind::Rollback).verdict, AccessVerdict::Allowed);
}

TEST_F(AccessPolicy, ReadCommandsAreOpenToAnyoneInTheChannel) {
    settings_.access.operators.users = {UserId{"U0BOB"}};
    for (auto kind : {CommandKind::Overview,
                      CommandKind::Help,
                      CommandKind::Status,
                      CommandKind::History,
                      CommandKind::Verify,
                      CommandKind::Advise,
                      CommandKind::Log}) {
        EXPECT_EQ(decide("C0INCIDENTS", alice_, kind).verdict, AccessVerdict::Allowed);
    }
}

TEST_F(AccessPolicy, BotsAndDeactivatedUsersNeverCount) {
    UserInfo bot{UserId{"U0ROLLBOT"}, "rollbot", true, false};
    EXPECT_EQ(decide("C0INCIDENTS", bot, CommandKind::Status).verdict, AccessVerdict::Bot);
    UserInfo gone{UserId{"U0GONE"}, "gone", false, true};
    EXPECT_EQ(decide("C0INCIDENTS", gone, CommandKind::Rollback).verdict, AccessVerdict::Bot);
}

}  // namespace
}  // namespace rollbot::core
