#include "bot/approval.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace rollbot::core {

/// gtest prints states by name (found by ADL; internal linkage keeps it to this file).
static void PrintTo(ApprovalState state, std::ostream* os) {
    *os << to_string(state);
}
/// Rules too, in gtest messages and in `<< d.rule`.
static std::ostream& operator<<(std::ostream& os, ApprovalRule rule) {
    return os << to_string(rule);
}

namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using TimePoint = std::chrono::system_clock::time_point;
using Strings = std::vector<std::string>;

const TimePoint kT0 = TimePoint{} + std::chrono::hours(24 * 365 * 54);
const MessageRef kCard{ChannelId{"C0INCIDENTS"}, MessageTs{"1700000000.000100"}};
const UsergroupId kDba{"S0DBA"};
const UsergroupId kLead{"S0LEAD"};
const UsergroupId kSre{"S0SRE"};
const std::set<std::string> kAllRules{"approved",
                                      "approval_counted",
                                      "already_counted",
                                      "withdrawn",
                                      "not_counted",
                                      "rejected",
                                      "not_an_approver",
                                      "self_approval",
                                      "bot",
                                      "wrong_message",
                                      "other_reaction",
                                      "not_pending",
                                      "expired",
                                      "not_due",
                                      "cancelled",
                                      "not_allowed_to_cancel",
                                      "superseded",
                                      "executing"};

Reactor person(const char* id, std::vector<UsergroupId> groups = {}) {
    return Reactor{UserId{id}, false, std::move(groups)};
}

const Reactor kAlice = person("U0ALICE");                             // listed by name
const Reactor kBob = person("U0BOB", {kDba});                         // a DBA
const Reactor kCarol = person("U0CAROL", {kLead});                    // an Engineering Lead
const Reactor kDave = person("U0DAVE", {UsergroupId{"S0FRONTEND"}});  // not an approver
const Reactor kErin = person("U0ERIN", {kDba, kLead});                // both
const Reactor kFrank = person("U0FRANK", {kDba});
const Reactor kRequester = person("U0REQ", {kDba});  // an approver, but asked for it
const Reactor kBot{UserId{"U0BOT"}, true, {kDba}};   // listed and in the group, still a bot

ReactionEvent reaction(const Reactor& who,
                       std::string emoji,
                       bool added = true,
                       MessageRef where = kCard) {
    return ReactionEvent{added, who.user, std::move(emoji), std::move(where), "Ev1"};
}

/// The DB downgrade policy of the example config: one DBA or Engineering Lead, 15 minutes.
class ApprovalFixture : public ::testing::Test {
protected:
    ApprovalFixture() {
        policy_.approvers.users = {kAlice.user, kBot.user};
        policy_.approvers.usergroups = {kDba, kLead};
    }

    [[nodiscard]] Approval make(bool with_card = true) const {
        Approval a{RequestId{"R12"}, ActionKind::Db, policy_, kRequester.user, "plan-1", kT0};
        if (with_card) {
            a.set_card(kCard);
        }
        return a;
    }
    static ApprovalDecision approve(Approval& a,
                                    const Reactor& who,
                                    std::string emoji = "white_check_mark",
                                    TimePoint at = kT0 + minutes(1)) {
        return a.on_reaction(reaction(who, std::move(emoji)), who, at);
    }
    static ApprovalDecision unapprove(Approval& a,
                                      const Reactor& who,
                                      std::string emoji = "white_check_mark") {
        return a.on_reaction(reaction(who, std::move(emoji), false), who, kT0 + minutes(2));
    }
    static ApprovalDecision reject(Approval& a, const Reactor& who) {
        return a.on_reaction(reaction(who, "x"), who, kT0 + minutes(2));
    }

    ApprovalPolicy policy_;
};

using ApprovalCard = ApprovalFixture;
using ApprovalApprovers = ApprovalFixture;
using ApprovalCounting = ApprovalFixture;
using ApprovalRequiredGroups = ApprovalFixture;
using ApprovalReject = ApprovalFixture;
using ApprovalWithdraw = ApprovalFixture;
using ApprovalExecution = ApprovalFixture;
using ApprovalExpiry = ApprovalFixture;
using ApprovalCancel = ApprovalFixture;
using ApprovalSupersede = ApprovalFixture;
using ApprovalClosed = ApprovalFixture;
using ApprovalExplanations = ApprovalFixture;
using ApprovalRestore = ApprovalFixture;

// --- only reactions on the bot's own card --------------------------------------------------

TEST_F(ApprovalCard, ReactionsBeforeTheCardIsPostedDoNotCount) {
    auto a = make(/*with_card=*/false);
    const auto d = approve(a, kAlice);
    EXPECT_EQ(d.rule, ApprovalRule::WrongMessage);
    EXPECT_FALSE(d.changed);
    EXPECT_EQ(a.state(), ApprovalState::Pending);
    EXPECT_TRUE(a.approvers().empty());
    a.set_card(kCard);
    EXPECT_EQ(approve(a, kAlice).rule, ApprovalRule::Approved);
}

TEST_F(ApprovalCard, ReactionsOnAnyOtherMessageDoNotCount) {
    auto a = make();
    const MessageRef other_ts{kCard.channel, MessageTs{"1700000000.000200"}};
    const MessageRef other_channel{ChannelId{"C0RANDOM"}, kCard.ts};
    for (const auto& where : {other_ts, other_channel}) {
        const auto d = a.on_reaction(
            reaction(kAlice, "white_check_mark", true, where), kAlice, kT0 + minutes(1));
        EXPECT_EQ(d.rule, ApprovalRule::WrongMessage);
        EXPECT_FALSE(d.changed);
    }
    EXPECT_EQ(a.on_reaction(reaction(kBob, "x", true, other_ts), kBob, kT0).rule,
              ApprovalRule::WrongMessage);
    EXPECT_EQ(a.state(), ApprovalState::Pending);
    EXPECT_TRUE(a.approvers().empty());
}

TEST_F(ApprovalCard, ARepostedCardMovesWhereReactionsCount) {
    auto a = make();
    const MessageRef reposted{kCard.channel, MessageTs{"1700000001.000100"}};
    a.set_card(reposted);
    EXPECT_EQ(a.snapshot().card, reposted);
    EXPECT_EQ(approve(a, kAlice).rule, ApprovalRule::WrongMessage);
    EXPECT_EQ(a.on_reaction(reaction(kAlice, "white_check_mark", true, reposted), kAlice, kT0).rule,
              ApprovalRule::Approved);
}

TEST_F(ApprovalCard, OtherEmojiOnTheCardAreIgnored) {
    auto a = make();
    for (const char* emoji : {"eyes", "heavy_check_mark", "white_check_mark_2", "x_x", ""}) {
        const auto d = approve(a, kAlice, emoji);
        EXPECT_EQ(d.rule, ApprovalRule::OtherReaction) << emoji;
        EXPECT_FALSE(d.changed);
    }
    EXPECT_EQ(unapprove(a, kAlice, "eyes").rule, ApprovalRule::OtherReaction);
    EXPECT_EQ(a.state(), ApprovalState::Pending);
    EXPECT_TRUE(a.approvers().empty());
}

TEST_F(ApprovalCard, SkinToneVariantsCountAsTheBaseEmoji) {
    EXPECT_EQ(base_reaction("white_check_mark::skin-tone-2"), "white_check_mark");
    EXPECT_EQ(base_reaction("+1::skin-tone-6"), "+1");
    EXPECT_EQ(base_reaction("white_check_mark"), "white_check_mark");
    EXPECT_EQ(base_reaction(""), "");

    auto a = make();
    EXPECT_EQ(approve(a, kAlice, "white_check_mark::skin-tone-2").rule, ApprovalRule::Approved);
    auto b = make();
    EXPECT_EQ(b.on_reaction(reaction(kBob, "x::skin-tone-5"), kBob, kT0).rule,
              ApprovalRule::Rejected);
}

TEST_F(ApprovalCard, TheConfiguredReactionsAreTheOnesThatCount) {
    policy_.approve_reaction = "ok_hand";
    policy_.reject_reaction = "no_entry";
    auto a = make();
    EXPECT_EQ(approve(a, kAlice, "white_check_mark").rule, ApprovalRule::OtherReaction);
    EXPECT_EQ(a.on_reaction(reaction(kBob, "x"), kBob, kT0).rule, ApprovalRule::OtherReaction);
    EXPECT_EQ(approve(a, kAlice, "ok_hand::skin-tone-3").rule, ApprovalRule::Approved);
    EXPECT_EQ(a.on_reaction(reaction(kBob, "no_entry"), kBob, kT0).rule, ApprovalRule::Rejected);
}

// --- who is an approver --------------------------------------------------------------------

TEST_F(ApprovalApprovers, AUserListedByNameCanApprove) {
    auto a = make();
    const auto d = approve(a, kAlice);
    EXPECT_EQ(d.rule, ApprovalRule::Approved);
    EXPECT_TRUE(d.changed);
    EXPECT_EQ(a.state(), ApprovalState::Approved);
    EXPECT_EQ(a.approvers(), std::vector<UserId>{kAlice.user});
}

TEST_F(ApprovalApprovers, AMemberOfAnApproverUsergroupCanApprove) {
    auto a = make();
    EXPECT_EQ(approve(a, kBob).rule, ApprovalRule::Approved);
    auto b = make();
    EXPECT_EQ(approve(b, kCarol).rule, ApprovalRule::Approved);
}

TEST_F(ApprovalApprovers, AMemberOfARequiredGroupIsAnApproverEvenIfTheGroupIsNotListed) {
    policy_.required_groups = {kSre};
    auto a = make();
    EXPECT_EQ(approve(a, person("U0SAM", {kSre})).rule, ApprovalRule::Approved);
}

TEST_F(ApprovalApprovers, SomeoneElseIsNotAnApprover) {
    auto a = make();
    const auto d = approve(a, kDave);
    EXPECT_EQ(d.rule, ApprovalRule::NotAnApprover);
    EXPECT_FALSE(d.changed);
    EXPECT_NE(d.explanation.find("<@U0DAVE>"), std::string::npos) << d.explanation;
    EXPECT_EQ(approve(a, person("U0NOBODY")).rule, ApprovalRule::NotAnApprover);
    EXPECT_EQ(a.state(), ApprovalState::Pending);
    EXPECT_TRUE(a.approvers().empty());
}

TEST_F(ApprovalApprovers, BotsNeverCountEvenWhenListedOrInAGroup) {
    auto a = make();
    for (const auto& d : {approve(a, kBot), unapprove(a, kBot), reject(a, kBot)}) {
        EXPECT_EQ(d.rule, ApprovalRule::Bot);
        EXPECT_FALSE(d.changed);
    }
    const Reactor unlisted_bot{UserId{"U0OTHERBOT"}, true, {}};
    EXPECT_EQ(approve(a, unlisted_bot).rule, ApprovalRule::Bot) << "the bot check comes first";
    EXPECT_EQ(a.state(), ApprovalState::Pending);
    EXPECT_TRUE(a.approvers().empty());
}

TEST_F(ApprovalApprovers, TheRequesterCannotApproveTheirOwnRequest) {
    auto a = make();
    const auto d = approve(a, kRequester);
    EXPECT_EQ(d.rule, ApprovalRule::SelfApproval);
    EXPECT_FALSE(d.changed);
    EXPECT_NE(d.explanation.find("<@U0REQ>"), std::string::npos) << d.explanation;
    EXPECT_EQ(a.state(), ApprovalState::Pending);
    EXPECT_TRUE(a.approvers().empty());
}

TEST_F(ApprovalApprovers, ARequesterWhoIsNoApproverHearsTheFourEyesRule) {
    auto a = make();
    const Reactor requester_outside{kRequester.user, false, {}};
    const auto d = approve(a, requester_outside);
    EXPECT_EQ(d.rule, ApprovalRule::SelfApproval)
        << "their own request is the reason that matters to them";
    EXPECT_FALSE(d.changed);
    EXPECT_EQ(a.state(), ApprovalState::Pending);
}

TEST_F(ApprovalApprovers, TheRequesterCanApproveWhenThePolicyAllowsSelfApproval) {
    policy_.allow_self_approval = true;
    auto a = make();
    EXPECT_EQ(approve(a, kRequester).rule, ApprovalRule::Approved);
    EXPECT_EQ(a.approvers(), std::vector<UserId>{kRequester.user});
}

TEST_F(ApprovalApprovers, SelfApprovalStillRequiresTheRequesterToBeAnApprover) {
    policy_.allow_self_approval = true;
    Approval a{RequestId{"R12"}, ActionKind::Db, policy_, kDave.user, "plan-1", kT0};
    a.set_card(kCard);
    EXPECT_EQ(approve(a, kDave).rule, ApprovalRule::NotAnApprover);
}

// --- counting distinct people ----------------------------------------------------------------

TEST_F(ApprovalCounting, OnePersonCountsOnceHoweverManyApproveReactionsTheyAdd) {
    policy_.required = 2;
    auto a = make();
    EXPECT_EQ(approve(a, kAlice).rule, ApprovalRule::ApprovalCounted);
    const auto same = approve(a, kAlice);
    EXPECT_EQ(same.rule, ApprovalRule::AlreadyCounted);
    EXPECT_FALSE(same.changed);
    const auto variant = approve(a, kAlice, "white_check_mark::skin-tone-4");
    EXPECT_EQ(variant.rule, ApprovalRule::AlreadyCounted);
    EXPECT_TRUE(variant.changed) << "the variant is kept so that removing one keeps the approval";
    EXPECT_EQ(a.state(), ApprovalState::Pending);
    EXPECT_EQ(a.approvers(), std::vector<UserId>{kAlice.user});
    EXPECT_EQ(a.snapshot().approvals.at(kAlice.user),
              (std::set<std::string>{"white_check_mark", "white_check_mark::skin-tone-4"}));
}

TEST_F(ApprovalCounting, TwoRequiredApproversMeansTwoDistinctPeople) {
    policy_.required = 2;
    auto a = make();
    const auto first = approve(a, kAlice);
    EXPECT_EQ(first.rule, ApprovalRule::ApprovalCounted);
    EXPECT_TRUE(first.changed);
    EXPECT_EQ(a.state(), ApprovalState::Pending);
    EXPECT_EQ(a.still_needed(), Strings{"1 more approver"});
    EXPECT_NE(first.explanation.find("1 more approver"), std::string::npos) << first.explanation;
    EXPECT_EQ(approve(a, kBob).rule, ApprovalRule::Approved);
    EXPECT_EQ(a.state(), ApprovalState::Approved);
    EXPECT_TRUE(a.still_needed().empty());
    EXPECT_EQ(a.approvers(), (std::vector<UserId>{kAlice.user, kBob.user}));
}

TEST_F(ApprovalCounting, MoreApprovalsAfterApprovedAreStillCounted) {
    auto a = make();
    EXPECT_EQ(approve(a, kBob).rule, ApprovalRule::Approved);
    const auto d = approve(a, kAlice);
    EXPECT_EQ(d.rule, ApprovalRule::ApprovalCounted);
    EXPECT_TRUE(d.changed);
    EXPECT_EQ(a.state(), ApprovalState::Approved);
    EXPECT_EQ(a.approvers(), (std::vector<UserId>{kAlice.user, kBob.user})) << "sorted by id";
}

TEST_F(ApprovalCounting, ARequiredCountBelowOneStillNeedsOneApprover) {
    for (int required : {0, -3}) {
        policy_.required = required;
        auto a = make();
        EXPECT_EQ(a.state(), ApprovalState::Pending);
        EXPECT_EQ(a.still_needed(), Strings{"1 more approver"});
        EXPECT_FALSE(a.start_execution());
        EXPECT_EQ(approve(a, kAlice).rule, ApprovalRule::Approved);
    }
}

TEST_F(ApprovalCounting, StillNeededCountsDownThePeopleMissing) {
    policy_.required = 3;
    auto a = make();
    EXPECT_EQ(a.still_needed(), Strings{"3 more approvers"});
    approve(a, kAlice);
    EXPECT_EQ(a.still_needed(), Strings{"2 more approvers"});
    approve(a, kBob);
    EXPECT_EQ(a.still_needed(), Strings{"1 more approver"});
    approve(a, kCarol);
    EXPECT_EQ(a.still_needed(), Strings{});
}

// --- required groups: one distinct person per group ---------------------------------------------

TEST_F(ApprovalRequiredGroups, EachRequiredGroupNeedsOneOfItsMembers) {
    policy_.required_groups = {kDba, kLead};
    auto a = make();
    EXPECT_EQ(a.still_needed(),
              (Strings{"an approver from <!subteam^S0DBA>", "an approver from <!subteam^S0LEAD>"}));
    EXPECT_EQ(approve(a, kAlice).rule, ApprovalRule::ApprovalCounted)
        << "alice is in neither group";
    EXPECT_EQ(approve(a, kBob).rule, ApprovalRule::ApprovalCounted);
    EXPECT_EQ(a.still_needed(), Strings{"an approver from <!subteam^S0LEAD>"});
    EXPECT_EQ(a.state(), ApprovalState::Pending);
    EXPECT_EQ(approve(a, kCarol).rule, ApprovalRule::Approved);
    EXPECT_TRUE(a.still_needed().empty());
}

TEST_F(ApprovalRequiredGroups, OnePersonInTwoRequiredGroupsCoversOnlyOne) {
    policy_.required_groups = {kDba, kLead};
    auto a = make();
    const auto d = approve(a, kErin);
    EXPECT_EQ(d.rule, ApprovalRule::ApprovalCounted);
    EXPECT_EQ(a.state(), ApprovalState::Pending);
    EXPECT_EQ(a.still_needed().size(), 1U);
    EXPECT_EQ(approve(a, kErin, "white_check_mark::skin-tone-2").rule,
              ApprovalRule::AlreadyCounted);
    EXPECT_EQ(a.state(), ApprovalState::Pending);
}

TEST_F(ApprovalRequiredGroups, ASecondMemberLetsTheFirstCoverTheOtherGroup) {
    // Erin is matched to the DBA group first; Frank (DBA only) must take it over so that Erin
    // covers the Engineering Leads: a greedy assignment would stay Pending here.
    policy_.required_groups = {kDba, kLead};
    auto a = make();
    approve(a, kErin);
    EXPECT_EQ(approve(a, kFrank).rule, ApprovalRule::Approved);
}

TEST_F(ApprovalRequiredGroups, AugmentingPathsFollowLongerChains) {
    const UsergroupId g_a{"S0A"}, g_b{"S0B"}, g_c{"S0C"};
    policy_.required_groups = {g_a, g_b, g_c};
    auto a = make();
    approve(a, person("U1", {g_a, g_b}));
    approve(a, person("U2", {g_b, g_c}));
    EXPECT_EQ(a.state(), ApprovalState::Pending);
    ASSERT_EQ(a.still_needed().size(), 1U) << "two people cover two of the three groups";
    EXPECT_EQ(approve(a, person("U3", {g_a})).rule, ApprovalRule::Approved);
    auto b = make();
    approve(b, person("U1", {g_a, g_b}));
    approve(b, person("U2", {g_a, g_b}));
    EXPECT_EQ(approve(b, person("U3", {g_a, g_b})).rule, ApprovalRule::ApprovalCounted);
    EXPECT_EQ(b.still_needed(), Strings{"an approver from <!subteam^S0C>"});
}

TEST_F(ApprovalRequiredGroups, AGroupListedTwiceNeedsOnlyOnePerson) {
    policy_.required_groups = {kDba, kDba};
    auto a = make();
    EXPECT_EQ(a.still_needed(), Strings{"an approver from <!subteam^S0DBA>"});
    EXPECT_EQ(approve(a, kBob).rule, ApprovalRule::Approved);
}

TEST_F(ApprovalRequiredGroups, TheRequiredCountAndTheGroupsMustBothBeMet) {
    policy_.required = 3;
    policy_.required_groups = {kDba};
    auto a = make();
    EXPECT_EQ(a.still_needed(), (Strings{"2 more approvers", "an approver from <!subteam^S0DBA>"}));
    approve(a, kBob);
    EXPECT_EQ(a.still_needed(), Strings{"2 more approvers"});
    approve(a, kAlice);
    EXPECT_EQ(approve(a, kCarol).rule, ApprovalRule::Approved);

    policy_.required = 2;
    auto b = make();
    approve(b, kAlice);
    EXPECT_EQ(approve(b, kCarol).rule, ApprovalRule::ApprovalCounted) << "two people, but no DBA";
    EXPECT_EQ(b.still_needed(), Strings{"an approver from <!subteam^S0DBA>"});
    EXPECT_EQ(approve(b, kBob).rule, ApprovalRule::Approved);
}

TEST_F(ApprovalRequiredGroups, GroupMembershipIsRecordedWhenCounted) {
    policy_.required_groups = {kDba};
    auto a = make();
    approve(a, person("U0ZED", {kLead, kDba, kLead}));
    EXPECT_EQ(a.snapshot().approver_groups.at(UserId{"U0ZED"}),
              (std::vector<UsergroupId>{kDba, kLead}));
    EXPECT_EQ(a.state(), ApprovalState::Approved);
}

// --- reject ----------------------------------------------------------------------------------

TEST_F(ApprovalReject, ARejectReactionFromAnApproverRejects) {
    auto a = make();
    const auto d = reject(a, kBob);
    EXPECT_EQ(d.rule, ApprovalRule::Rejected);
    EXPECT_TRUE(d.changed);
    EXPECT_EQ(a.state(), ApprovalState::Rejected);
    EXPECT_EQ(a.snapshot().decided_by, kBob.user);
    EXPECT_NE(d.explanation.find("<@U0BOB>"), std::string::npos) << d.explanation;
}

TEST_F(ApprovalReject, TheRequesterCanRejectTheirOwnRequest) {
    auto a = make();
    EXPECT_EQ(reject(a, kRequester).rule, ApprovalRule::Rejected);
    EXPECT_EQ(a.snapshot().decided_by, kRequester.user);
    const auto c = Reactor{UserId{"U0REQ2"}, false, {}};
    Approval b{RequestId{"R13"}, ActionKind::Db, policy_, c.user, "plan-1", kT0};
    b.set_card(kCard);
    EXPECT_EQ(reject(b, c).rule, ApprovalRule::Rejected)
        << "even a requester who is not an approver";
}

TEST_F(ApprovalReject, ARejectReactionFromSomeoneElseIsIgnored) {
    auto a = make();
    const auto d = reject(a, kDave);
    EXPECT_EQ(d.rule, ApprovalRule::NotAnApprover);
    EXPECT_FALSE(d.changed);
    EXPECT_EQ(a.state(), ApprovalState::Pending);
    EXPECT_FALSE(a.snapshot().decided_by);
}

TEST_F(ApprovalReject, ARejectionAfterApprovalButBeforeExecutionStillRejects) {
    auto a = make();
    approve(a, kAlice);
    ASSERT_EQ(a.state(), ApprovalState::Approved);
    EXPECT_EQ(reject(a, kCarol).rule, ApprovalRule::Rejected);
    EXPECT_EQ(a.state(), ApprovalState::Rejected);
    EXPECT_FALSE(a.start_execution());
}

TEST_F(ApprovalReject, RemovingARejectReactionDoesNothing) {
    auto a = make(/*with_card=*/false);
    EXPECT_EQ(reject(a, kBob).rule, ApprovalRule::WrongMessage) << "before the card was posted";
    a.set_card(kCard);
    const auto bob_removed = a.on_reaction(reaction(kBob, "x", false), kBob, kT0 + minutes(3));
    EXPECT_EQ(bob_removed.rule, ApprovalRule::OtherReaction);
    EXPECT_FALSE(bob_removed.changed);
    EXPECT_EQ(a.state(), ApprovalState::Pending);
    reject(a, kDave);
    const auto removed = a.on_reaction(reaction(kDave, "x", false), kDave, kT0 + minutes(3));
    EXPECT_FALSE(removed.changed);
    EXPECT_EQ(a.state(), ApprovalState::Pending);
    reject(a, kBob);
    const auto after = a.on_reaction(reaction(kBob, "x", false), kBob, kT0 + minutes(3));
    EXPECT_EQ(after.rule, ApprovalRule::NotPending);
    EXPECT_FALSE(after.changed);
    EXPECT_EQ(a.state(), ApprovalState::Rejected) << "un-rejecting is not a thing";
}

// --- withdrawal ------------------------------------------------------------------------------

TEST_F(ApprovalWithdraw, RemovingTheApproveReactionWithdrawsTheApproval) {
    policy_.required = 2;
    auto a = make();
    approve(a, kAlice);
    const auto d = unapprove(a, kAlice);
    EXPECT_EQ(d.rule, ApprovalRule::Withdrawn);
    EXPECT_TRUE(d.changed);
    EXPECT_TRUE(a.approvers().empty());
    EXPECT_TRUE(a.snapshot().approver_groups.empty());
    EXPECT_EQ(a.still_needed(), Strings{"2 more approvers"});
}

TEST_F(ApprovalWithdraw, WithdrawingFromApprovedFallsBackToPending) {
    auto a = make();
    approve(a, kBob);
    ASSERT_EQ(a.state(), ApprovalState::Approved);
    EXPECT_EQ(unapprove(a, kBob).rule, ApprovalRule::Withdrawn);
    EXPECT_EQ(a.state(), ApprovalState::Pending);
    EXPECT_FALSE(a.start_execution());
    EXPECT_EQ(approve(a, kBob).rule, ApprovalRule::Approved) << "and may approve again";
}

TEST_F(ApprovalWithdraw, WithdrawingAnExtraApprovalKeepsItApproved) {
    auto a = make();
    approve(a, kBob);
    approve(a, kAlice);
    EXPECT_EQ(unapprove(a, kBob).rule, ApprovalRule::Withdrawn);
    EXPECT_EQ(a.state(), ApprovalState::Approved);
    EXPECT_EQ(a.approvers(), std::vector<UserId>{kAlice.user});
}

TEST_F(ApprovalWithdraw, WithdrawingTheOnlyMemberOfARequiredGroupReopens) {
    policy_.required_groups = {kDba};
    policy_.required = 1;
    auto a = make();
    approve(a, kAlice);
    approve(a, kBob);
    ASSERT_EQ(a.state(), ApprovalState::Approved);
    unapprove(a, kBob);
    EXPECT_EQ(a.state(), ApprovalState::Pending);
    EXPECT_EQ(a.still_needed(), Strings{"an approver from <!subteam^S0DBA>"});
}

TEST_F(ApprovalWithdraw, RemovingOneOfTwoVariantsKeepsTheApproval) {
    auto a = make();
    approve(a, kAlice);
    approve(a, kAlice, "white_check_mark::skin-tone-3");
    const auto d = unapprove(a, kAlice);
    EXPECT_EQ(d.rule, ApprovalRule::AlreadyCounted);
    EXPECT_TRUE(d.changed);
    EXPECT_EQ(a.state(), ApprovalState::Approved);
    EXPECT_EQ(a.approvers(), std::vector<UserId>{kAlice.user});
    EXPECT_EQ(unapprove(a, kAlice, "white_check_mark::skin-tone-3").rule, ApprovalRule::Withdrawn);
    EXPECT_EQ(a.state(), ApprovalState::Pending);
}

TEST_F(ApprovalWithdraw, RemovingAReactionThatNeverCountedChangesNothing) {
    auto a = make();
    approve(a, kAlice);
    for (const auto& who : {kDave, kRequester, kCarol}) {
        const auto d = unapprove(a, who);
        EXPECT_EQ(d.rule, ApprovalRule::NotCounted);
        EXPECT_FALSE(d.changed);
    }
    const auto other_variant = unapprove(a, kAlice, "white_check_mark::skin-tone-5");
    EXPECT_EQ(other_variant.rule, ApprovalRule::AlreadyCounted);
    EXPECT_FALSE(other_variant.changed);
    EXPECT_EQ(a.state(), ApprovalState::Approved);
}

// --- execution -------------------------------------------------------------------------------

TEST_F(ApprovalExecution, ExecutionCanOnlyStartOnceApproved) {
    auto a = make();
    EXPECT_FALSE(a.start_execution());
    EXPECT_EQ(a.state(), ApprovalState::Pending);
    approve(a, kAlice);
    EXPECT_TRUE(a.start_execution());
    EXPECT_EQ(a.state(), ApprovalState::Executing);
    EXPECT_FALSE(a.start_execution()) << "only once";
    EXPECT_FALSE(a.is_open());
}

TEST_F(ApprovalExecution, OnceExecutingReactionsNoLongerChangeAnything) {
    auto a = make();
    approve(a, kAlice);
    ASSERT_TRUE(a.start_execution());
    const auto before = a.snapshot();
    for (const auto& d : {unapprove(a, kAlice),
                          reject(a, kBob),
                          approve(a, kCarol),
                          approve(a, kDave, "eyes"),
                          reject(a, kRequester)}) {
        EXPECT_EQ(d.rule, ApprovalRule::Executing);
        EXPECT_FALSE(d.changed);
    }
    EXPECT_EQ(a.snapshot(), before);
    EXPECT_EQ(a.approvers(), std::vector<UserId>{kAlice.user});
}

TEST_F(ApprovalExecution, OnceExecutingCancelSupersedeAndExpiryAreRefused) {
    auto a = make();
    approve(a, kAlice);
    ASSERT_TRUE(a.start_execution());
    const auto before = a.snapshot();
    for (const auto& d : {a.cancel(kRequester, kT0 + minutes(3)),
                          a.supersede("plan-2"),
                          a.expire_if_due(kT0 + minutes(60))}) {
        EXPECT_EQ(d.rule, ApprovalRule::NotPending);
        EXPECT_FALSE(d.changed);
    }
    EXPECT_EQ(a.snapshot(), before);
}

// --- expiry ----------------------------------------------------------------------------------

TEST_F(ApprovalExpiry, AnUnapprovedRequestExpiresAtTheDeadline) {
    auto a = make();
    EXPECT_TRUE(a.can_expire());
    EXPECT_EQ(a.expires_at(), kT0 + minutes(15));
    const auto early = a.expire_if_due(kT0 + minutes(15) - milliseconds(1));
    EXPECT_EQ(early.rule, ApprovalRule::NotDue);
    EXPECT_FALSE(early.changed);
    EXPECT_EQ(a.state(), ApprovalState::Pending);
    const auto due = a.expire_if_due(kT0 + minutes(15));
    EXPECT_EQ(due.rule, ApprovalRule::Expired);
    EXPECT_TRUE(due.changed);
    EXPECT_EQ(a.state(), ApprovalState::Expired);
    EXPECT_NE(due.explanation.find("15 min"), std::string::npos) << due.explanation;
}

TEST_F(ApprovalExpiry, AnApprovedRequestThatNeverStartedExpiresToo) {
    auto a = make();
    approve(a, kAlice);
    EXPECT_EQ(a.expire_if_due(kT0 + minutes(20)).rule, ApprovalRule::Expired);
    EXPECT_FALSE(a.start_execution());
}

TEST_F(ApprovalExpiry, AReactionAfterTheDeadlineIsRefusedAndExpiresTheApproval) {
    auto a = make();
    const auto d = approve(a, kAlice, "white_check_mark", kT0 + minutes(15));
    EXPECT_EQ(d.rule, ApprovalRule::Expired);
    EXPECT_TRUE(d.changed);
    EXPECT_EQ(a.state(), ApprovalState::Expired);
    EXPECT_TRUE(a.approvers().empty());
    EXPECT_EQ(approve(a, kAlice, "white_check_mark", kT0 + minutes(1)).rule,
              ApprovalRule::NotPending);
}

TEST_F(ApprovalExpiry, AReactionElsewhereAfterTheDeadlineDoesNotConcernTheApproval) {
    auto a = make();
    const MessageRef elsewhere{kCard.channel, MessageTs{"1.2"}};
    EXPECT_EQ(a.on_reaction(
                   reaction(kAlice, "white_check_mark", true, elsewhere), kAlice, kT0 + minutes(99))
                  .rule,
              ApprovalRule::WrongMessage);
    EXPECT_EQ(a.state(), ApprovalState::Pending);
}

TEST_F(ApprovalExpiry, ATimeoutOfZeroNeverExpires) {
    policy_.timeout = Duration::zero();
    auto a = make();
    EXPECT_FALSE(a.can_expire());
    EXPECT_EQ(a.expire_if_due(kT0).rule, ApprovalRule::NotDue);
    EXPECT_EQ(a.expire_if_due(kT0 + std::chrono::hours(24 * 365)).rule, ApprovalRule::NotDue);
    EXPECT_EQ(approve(a, kAlice, "white_check_mark", kT0 + std::chrono::hours(48)).rule,
              ApprovalRule::Approved);
    EXPECT_EQ(a.cancel(kRequester, kT0 + std::chrono::hours(72)).rule, ApprovalRule::Cancelled);
}

TEST_F(ApprovalExpiry, ACustomTimeoutSetsTheDeadline) {
    policy_.timeout = seconds(90);
    auto a = make();
    EXPECT_EQ(a.expires_at(), kT0 + seconds(90));
    EXPECT_EQ(a.expire_if_due(kT0 + seconds(89)).rule, ApprovalRule::NotDue);
    const auto d = a.expire_if_due(kT0 + seconds(90));
    EXPECT_EQ(d.rule, ApprovalRule::Expired);
    EXPECT_NE(d.explanation.find("90 s"), std::string::npos) << d.explanation;
}

// --- cancel ----------------------------------------------------------------------------------

TEST_F(ApprovalCancel, TheRequesterCanCancel) {
    auto a = make();
    const auto d = a.cancel(kRequester, kT0 + minutes(1));
    EXPECT_EQ(d.rule, ApprovalRule::Cancelled);
    EXPECT_TRUE(d.changed);
    EXPECT_EQ(a.state(), ApprovalState::Cancelled);
    EXPECT_EQ(a.snapshot().decided_by, kRequester.user);
}

TEST_F(ApprovalCancel, AnApproverCanCancelEvenAfterApproving) {
    auto a = make();
    approve(a, kAlice);
    EXPECT_EQ(a.cancel(kCarol, kT0 + minutes(1)).rule, ApprovalRule::Cancelled);
    EXPECT_EQ(a.snapshot().decided_by, kCarol.user);
    EXPECT_FALSE(a.start_execution());
}

TEST_F(ApprovalCancel, NobodyElseCanCancelAndBotsNever) {
    auto a = make();
    for (const auto& who : {kDave, kBot}) {
        const auto d = a.cancel(who, kT0 + minutes(1));
        EXPECT_EQ(d.rule, ApprovalRule::NotAllowedToCancel);
        EXPECT_FALSE(d.changed);
        EXPECT_NE(d.explanation.find("<@U0REQ>"), std::string::npos) << d.explanation;
    }
    EXPECT_EQ(a.state(), ApprovalState::Pending);
    EXPECT_FALSE(a.snapshot().decided_by);
}

TEST_F(ApprovalCancel, CancellingWhatIsNoLongerPendingChangesNothing) {
    auto a = make();
    ASSERT_EQ(a.cancel(kRequester, kT0).rule, ApprovalRule::Cancelled);
    const auto again = a.cancel(kAlice, kT0);
    EXPECT_EQ(again.rule, ApprovalRule::NotPending);
    EXPECT_FALSE(again.changed);
    EXPECT_EQ(a.snapshot().decided_by, kRequester.user);
}

TEST_F(ApprovalCancel, CancellingAfterTheDeadlineFindsItExpired) {
    auto a = make();
    EXPECT_EQ(a.cancel(kRequester, kT0 + minutes(16)).rule, ApprovalRule::Expired);
    EXPECT_EQ(a.state(), ApprovalState::Expired);
    EXPECT_FALSE(a.snapshot().decided_by);
}

// --- supersede -------------------------------------------------------------------------------

TEST_F(ApprovalSupersede, AChangedPlanSupersedesAnApprovedRequest) {
    auto a = make();
    approve(a, kAlice);
    const auto d = a.supersede("plan-2");
    EXPECT_EQ(d.rule, ApprovalRule::Superseded);
    EXPECT_TRUE(d.changed);
    EXPECT_EQ(a.state(), ApprovalState::Superseded);
    EXPECT_EQ(a.snapshot().plan_id, "plan-1") << "the card showed plan-1";
    EXPECT_NE(d.explanation.find("plan-2"), std::string::npos) << d.explanation;
    EXPECT_FALSE(a.start_execution());
}

TEST_F(ApprovalSupersede, APendingRequestCanBeSupersededButAClosedOneCannot) {
    auto a = make();
    EXPECT_EQ(a.supersede("plan-2").rule, ApprovalRule::Superseded);
    EXPECT_EQ(a.supersede("plan-3").rule, ApprovalRule::NotPending);
    auto b = make();
    reject(b, kBob);
    EXPECT_EQ(b.supersede("plan-2").rule, ApprovalRule::NotPending);
    EXPECT_EQ(b.state(), ApprovalState::Rejected);
}

// --- closed approvals ------------------------------------------------------------------------

TEST_F(ApprovalClosed, EveryInputOnAClosedApprovalIsNotPendingAndChangesNothing) {
    std::vector<std::pair<ApprovalState, std::function<void(Approval&)>>> closers{
        {ApprovalState::Rejected,
         [](Approval& a) {
             reject(a, kBob);
         }},
        {ApprovalState::Expired,
         [](Approval& a) {
             a.expire_if_due(kT0 + minutes(15));
         }},
        {ApprovalState::Cancelled,
         [](Approval& a) {
             a.cancel(kRequester, kT0);
         }},
        {ApprovalState::Superseded,
         [](Approval& a) {
             a.supersede("plan-2");
         }},
    };
    for (const auto& [state, close] : closers) {
        SCOPED_TRACE(std::string(to_string(state)));
        auto a = make();
        approve(a, kAlice);
        close(a);
        ASSERT_EQ(a.state(), state);
        const auto before = a.snapshot();
        for (const auto& d : {approve(a, kBob),
                              unapprove(a, kAlice),
                              reject(a, kCarol),
                              approve(a, kDave, "eyes"),
                              a.cancel(kRequester, kT0),
                              a.expire_if_due(kT0 + minutes(60)),
                              a.supersede("plan-3")}) {
            EXPECT_EQ(d.rule, ApprovalRule::NotPending);
            EXPECT_FALSE(d.changed);
            EXPECT_NE(d.explanation.find(to_string(state)), std::string::npos) << d.explanation;
        }
        EXPECT_FALSE(a.start_execution());
        EXPECT_FALSE(a.is_open());
        EXPECT_EQ(a.snapshot(), before);
    }
}

// --- explanations ----------------------------------------------------------------------------

TEST_F(ApprovalExplanations, EveryDecisionIsOneSentenceNamingThePeopleWithSlackMentions) {
    policy_.required = 2;
    auto a = make(false);
    std::vector<std::pair<ApprovalDecision, std::string>> seen;
    seen.emplace_back(approve(a, kAlice), "");
    a.set_card(kCard);
    seen.emplace_back(approve(a, kAlice, "eyes"), "");
    seen.emplace_back(approve(a, kBot), "<@U0BOT>");
    seen.emplace_back(approve(a, kDave), "<@U0DAVE>");
    seen.emplace_back(reject(a, kDave), "<@U0DAVE>");
    seen.emplace_back(approve(a, kRequester), "<@U0REQ>");
    seen.emplace_back(approve(a, kAlice), "<@U0ALICE>");
    seen.emplace_back(approve(a, kAlice), "<@U0ALICE>");
    seen.emplace_back(unapprove(a, kCarol), "<@U0CAROL>");
    seen.emplace_back(unapprove(a, kAlice), "<@U0ALICE>");
    seen.emplace_back(a.cancel(kDave, kT0), "<@U0DAVE>");
    seen.emplace_back(a.expire_if_due(kT0), "R12");
    approve(a, kAlice);
    seen.emplace_back(approve(a, kBob), "<@U0BOB>");
    seen.emplace_back(a.supersede("plan-2"), "R12");
    seen.emplace_back(a.cancel(kRequester, kT0), "R12");
    auto b = make();
    seen.emplace_back(reject(b, kCarol), "<@U0CAROL>");
    auto c = make();
    seen.emplace_back(c.cancel(kRequester, kT0), "<@U0REQ>");
    auto e = make();
    seen.emplace_back(e.expire_if_due(kT0 + minutes(15)), "R12");
    auto f = make();
    approve(f, kBob);
    approve(f, kAlice);
    ASSERT_TRUE(f.start_execution());
    seen.emplace_back(unapprove(f, kBob), "R12");
    std::set<std::string> rules;
    for (const auto& [d, must_name] : seen) {
        rules.insert(std::string(to_string(d.rule)));
        EXPECT_FALSE(d.explanation.empty()) << d.rule;
        EXPECT_EQ(d.explanation.back(), '.') << d.rule << ": " << d.explanation;
        EXPECT_EQ(d.explanation.find('\n'), std::string::npos) << d.explanation;
        EXPECT_EQ(std::count(d.explanation.begin(), d.explanation.end(), '.'), 1)
            << "one sentence: " << d.explanation;
        EXPECT_NE(d.explanation.find(must_name), std::string::npos) << d.explanation;
    }
    EXPECT_EQ(rules, kAllRules) << "the sample covers every rule";
}

// --- state names -----------------------------------------------------------------------------

TEST(ApprovalStateNames, EveryStateRoundTripsThroughItsName) {
    const std::vector<std::pair<ApprovalState, std::string_view>> names{
        {ApprovalState::Pending, "pending"},
        {ApprovalState::Approved, "approved"},
        {ApprovalState::Executing, "executing"},
        {ApprovalState::Rejected, "rejected"},
        {ApprovalState::Expired, "expired"},
        {ApprovalState::Cancelled, "cancelled"},
        {ApprovalState::Superseded, "superseded"},
    };
    for (const auto& [state, name] : names) {
        EXPECT_EQ(to_string(state), name);
        EXPECT_EQ(approval_state_from_string(name), state);
    }
}

TEST(ApprovalStateNames, UnknownTextIsNotAState) {
    for (const char* text :
         {"", "Pending", "APPROVED", "approved ", "canceled", "open", "unknown"}) {
        EXPECT_EQ(approval_state_from_string(text), std::nullopt) << text;
    }
}

// --- restore after a restart -----------------------------------------------------------------

TEST_F(ApprovalRestore, ARestoredApprovalDecidesLikeTheOriginal) {
    policy_.required = 2;
    policy_.required_groups = {kDba};
    auto original = make();
    approve(original, kAlice);
    approve(original, kAlice, "white_check_mark::skin-tone-2");
    approve(original, kCarol);
    Approval restored{original.snapshot(), policy_};
    EXPECT_EQ(restored.snapshot(), original.snapshot());
    EXPECT_EQ(restored.still_needed(), original.still_needed());
    EXPECT_EQ(restored.expires_at(), original.expires_at());
    const std::vector<std::function<ApprovalDecision(Approval&)>> inputs{
        [](Approval& a) { return approve(a, kDave); },
        [](Approval& a) { return unapprove(a, kAlice); },
        [](Approval& a) { return approve(a, kRequester); },
        [](Approval& a) { return approve(a, kBob); },
        [](Approval& a) { return unapprove(a, kAlice, "white_check_mark::skin-tone-2"); },
        [](Approval& a) { return approve(a, kFrank); },
    };
    for (const auto& input : inputs) {
        const auto expected = input(original);
        EXPECT_EQ(input(restored), expected) << expected.rule;
        EXPECT_EQ(restored.snapshot(), original.snapshot());
    }
    EXPECT_EQ(restored.state(), ApprovalState::Approved);
    EXPECT_TRUE(restored.start_execution());
}

TEST_F(ApprovalRestore, ApproversWhoNoLongerQualifyAreDropped) {
    auto a = make();
    approve(a, kAlice);
    approve(a, kBob);
    policy_.approvers.users.clear();         // alice was listed by name
    policy_.approvers.usergroups = {kLead};  // bob's DBA group no longer approves
    Approval restored{a.snapshot(), policy_};
    EXPECT_TRUE(restored.approvers().empty());
    EXPECT_TRUE(restored.snapshot().approver_groups.empty());
    EXPECT_EQ(restored.state(), ApprovalState::Pending);
}

TEST_F(ApprovalRestore, SelfApprovalIsDroppedWhenNoLongerAllowed) {
    policy_.allow_self_approval = true;
    auto a = make();
    approve(a, kRequester);
    ASSERT_EQ(a.state(), ApprovalState::Approved);
    policy_.allow_self_approval = false;
    Approval restored{a.snapshot(), policy_};
    EXPECT_EQ(restored.state(), ApprovalState::Pending);
    EXPECT_TRUE(restored.approvers().empty());
}

TEST_F(ApprovalRestore, ReactionsThatAreNoLongerTheApproveReactionAreDropped) {
    auto a = make();
    approve(a, kAlice);
    approve(a, kBob);
    approve(a, kBob, "white_check_mark::skin-tone-2");
    policy_.approve_reaction = "ok_hand";
    Approval restored{a.snapshot(), policy_};
    EXPECT_TRUE(restored.approvers().empty());
    EXPECT_EQ(restored.state(), ApprovalState::Pending);
}

TEST_F(ApprovalRestore, TheStateIsReevaluatedUnderTheCurrentRequirement) {
    policy_.required = 2;
    auto a = make();
    approve(a, kAlice);
    ASSERT_EQ(a.state(), ApprovalState::Pending);
    policy_.required = 1;
    EXPECT_EQ(Approval(a.snapshot(), policy_).state(), ApprovalState::Approved);
    policy_.required = 1;
    policy_.required_groups = {kLead};
    EXPECT_EQ(Approval(a.snapshot(), policy_).state(), ApprovalState::Pending);
}

TEST_F(ApprovalRestore, TheDeadlineShownOnTheCardIsKept) {
    auto a = make();
    policy_.timeout = minutes(60);
    Approval restored{a.snapshot(), policy_};
    EXPECT_EQ(restored.expires_at(), kT0 + minutes(15));
    EXPECT_EQ(restored.expire_if_due(kT0 + minutes(15)).rule, ApprovalRule::Expired);
}

TEST_F(ApprovalRestore, ClosedAndExecutingApprovalsStayAsTheyWere) {
    auto a = make();
    approve(a, kAlice);
    ASSERT_TRUE(a.start_execution());
    policy_.approvers.users.clear();
    EXPECT_EQ(Approval(a.snapshot(), policy_).state(), ApprovalState::Executing);
    auto b = make();
    reject(b, kBob);
    Approval restored{b.snapshot(), policy_};
    EXPECT_EQ(restored.state(), ApprovalState::Rejected);
    EXPECT_EQ(restored.snapshot().decided_by, kBob.user);
}

// --- generated sequences -------------------------------------------------------------------

/// Brute force: can each group get its own person among `members` (each a list of groups)?
bool brute_force_cover(const std::vector<UsergroupId>& groups,
                       const std::vector<std::vector<UsergroupId>>& members,
                       std::size_t next,
                       std::vector<bool>& used) {
    if (next == groups.size()) {
        return true;
    }
    for (std::size_t m = 0; m < members.size(); ++m) {
        if (!used[m] &&
            std::find(members[m].begin(), members[m].end(), groups[next]) != members[m].end()) {
            used[m] = true;
            if (brute_force_cover(groups, members, next + 1, used)) {
                return true;
            }
            used[m] = false;
        }
    }
    return false;
}

/// The rules restated independently of the implementation, for the generated sequences.
struct Oracle {
    ApprovalPolicy policy;
    UserId requester;
    std::vector<Reactor> people;

    [[nodiscard]] const Reactor& who(const UserId& id) const {
        return *std::find_if(
            people.begin(), people.end(), [&](const Reactor& r) { return r.user == id; });
    }
    [[nodiscard]] bool may_approve(const Reactor& r) const {
        const auto listed = [](const auto& list, const auto& x) {
            return std::find(list.begin(), list.end(), x) != list.end();
        };
        bool approver = listed(policy.approvers.users, r.user);
        for (const auto& g : r.groups) {
            approver = approver || listed(policy.approvers.usergroups, g) ||
                       listed(policy.required_groups, g);
        }
        return approver && !r.is_bot && (r.user != requester || policy.allow_self_approval);
    }
    [[nodiscard]] bool satisfied(const std::vector<UserId>& approvers) const {
        if (static_cast<int>(approvers.size()) < std::max(policy.required, 1)) {
            return false;
        }
        std::vector<UsergroupId> groups;
        for (const auto& g : policy.required_groups) {
            if (std::find(groups.begin(), groups.end(), g) == groups.end()) {
                groups.push_back(g);
            }
        }
        std::vector<std::vector<UsergroupId>> members;
        for (const auto& id : approvers) {
            members.push_back(who(id).groups);
        }
        std::vector<bool> used(members.size(), false);
        return brute_force_cover(groups, members, 0, used);
    }
};

/// Reactions on the card as Slack would show them, per user (only while the approval is open).
using CardModel = std::map<UserId, std::set<std::string>>;

void check_invariants(const Approval& a, const Oracle& oracle, const CardModel& card) {
    const auto approvers = a.approvers();
    for (const auto& id : approvers) {
        EXPECT_TRUE(oracle.may_approve(oracle.who(id))) << id.value << " counted";
    }
    if (!oracle.policy.allow_self_approval) {
        EXPECT_EQ(std::count(approvers.begin(), approvers.end(), oracle.requester), 0);
    }
    const bool satisfied = oracle.satisfied(approvers);
    if (a.state() == ApprovalState::Approved || a.state() == ApprovalState::Executing) {
        EXPECT_TRUE(satisfied) << "approved without enough distinct approvers";
        EXPECT_GE(static_cast<int>(approvers.size()), std::max(oracle.policy.required, 1));
    }
    if (!a.is_open()) {
        return;
    }
    EXPECT_EQ(a.state() == ApprovalState::Approved, satisfied);
    EXPECT_EQ(a.still_needed().empty(), satisfied);
    CardModel expected;
    for (const auto& [user, reactions] : card) {
        if (!reactions.empty() && oracle.may_approve(oracle.who(user))) {
            expected[user] = reactions;
        }
    }
    EXPECT_EQ(a.snapshot().approvals, expected);
}

bool transition_allowed(ApprovalState from, ApprovalState to) {
    using S = ApprovalState;
    if (from == to) {
        return true;
    }
    // Executing is reached through start_execution() only, never through a decision.
    return (from == S::Pending || from == S::Approved) && to != S::Executing;
}

struct Generated {
    std::mt19937 rng;
    int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); }
    bool chance(int percent) { return pick(100) < percent; }

    ApprovalPolicy policy(const std::vector<Reactor>& people) {
        ApprovalPolicy p;
        p.approvers.users = {people[0].user, people.back().user};
        for (const auto& g : {kDba, kLead}) {
            if (chance(70)) {
                p.approvers.usergroups.push_back(g);
            }
        }
        p.required = pick(4);  // 0 is treated as 1
        const std::vector<UsergroupId> groups{kDba, kLead, kSre, kDba};
        for (int i = pick(4); i > 0; --i) {
            p.required_groups.push_back(groups[static_cast<std::size_t>(pick(4))]);
        }
        p.allow_self_approval = chance(25);
        p.timeout = std::vector<Duration>{
            Duration::zero(), minutes(5), minutes(15)}[static_cast<std::size_t>(pick(3))];
        return p;
    }
};

TEST(ApprovalGenerated, RandomSequencesFromAFixedSeedKeepEveryInvariant) {
    const std::vector<Reactor> people{kAlice,
                                      kBob,
                                      kCarol,
                                      kDave,
                                      kErin,
                                      kFrank,
                                      kRequester,
                                      person("U0SAM", {kSre}),
                                      person("U0GUS", {kSre, kLead}),
                                      kBot};
    const MessageRef elsewhere{kCard.channel, MessageTs{"1700000000.000999"}};
    const std::vector<std::string> emoji{"white_check_mark",
                                         "white_check_mark::skin-tone-2",
                                         "white_check_mark::skin-tone-5",
                                         "x",
                                         "eyes"};
    Generated gen{std::mt19937(20240611U)};
    std::map<std::string, int> rules_seen;
    int executions = 0;
    for (int run = 0; run < 400; ++run) {
        const Oracle oracle{gen.policy(people), kRequester.user, people};
        Approval a{RequestId{"R1"}, ActionKind::Db, oracle.policy, kRequester.user, "p1", kT0};
        if (gen.chance(85)) {
            a.set_card(kCard);
        }
        CardModel card;
        auto now = kT0;
        for (int step = 0; step < 60; ++step) {
            SCOPED_TRACE(::testing::Message() << "run " << run << " step " << step);
            now += milliseconds(gen.pick(40'000));
            const auto before = a.snapshot();
            Approval restored{before, oracle.policy};
            ASSERT_EQ(restored.snapshot(), before) << "restoring its own snapshot changes nothing";
            const int kind = gen.pick(100);
            if (kind < 3 && !before.card) {
                a.set_card(kCard);
                continue;
            }
            if (kind < 8) {
                const bool started = a.start_execution();
                EXPECT_EQ(started, before.state == ApprovalState::Approved);
                EXPECT_EQ(restored.start_execution(), started);
                executions += started ? 1 : 0;
                continue;
            }
            const auto& who = people[static_cast<std::size_t>(gen.pick(10))];
            std::function<ApprovalDecision(Approval&)> input;
            std::optional<ReactionEvent> event;
            if (kind < 14) {
                input = [&](Approval& x) {
                    return x.cancel(who, now);
                };
            } else if (kind < 20) {
                input = [&](Approval& x) {
                    return x.expire_if_due(now);
                };
            } else if (kind < 22) {
                input = [&](Approval& x) {
                    return x.supersede("p2");
                };
            } else {
                event = reaction(who,
                                 emoji[static_cast<std::size_t>(gen.pick(5))],
                                 gen.chance(70),
                                 gen.chance(92) ? kCard : elsewhere);
                input = [&](Approval& x) {
                    return x.on_reaction(*event, who, now);
                };
            }
            const auto d = input(a);
            ++rules_seen[std::string(to_string(d.rule))];
            EXPECT_EQ(input(restored), d) << "a restored approval decides the same";
            const auto& after = a.snapshot();
            EXPECT_EQ(restored.snapshot(), after);
            EXPECT_EQ(d.changed, before != after) << d.rule;
            EXPECT_TRUE(transition_allowed(before.state, after.state))
                << to_string(before.state) << " -> " << to_string(after.state);
            const bool was_open =
                before.state == ApprovalState::Pending || before.state == ApprovalState::Approved;
            if (event && !event->added) {
                EXPECT_TRUE(after.state == before.state || after.state == ApprovalState::Expired ||
                            (before.state == ApprovalState::Approved &&
                             after.state == ApprovalState::Pending))
                    << "removing a reaction only withdraws: " << d.rule;
            }
            if (!was_open) {
                EXPECT_EQ(after, before) << "closed and executing approvals never change";
                EXPECT_TRUE(d.rule == ApprovalRule::NotPending || d.rule == ApprovalRule::Executing)
                    << d.rule;
            }
            if (event && was_open && before.card == event->item &&
                d.rule != ApprovalRule::Expired && !who.is_bot &&
                base_reaction(event->reaction) == "white_check_mark") {
                if (event->added) {
                    card[who.user].insert(event->reaction);
                } else {
                    card[who.user].erase(event->reaction);
                }
            }
            check_invariants(a, oracle, card);
        }
    }
    for (const auto& rule : kAllRules) {
        EXPECT_GT(rules_seen[rule], 0) << "the generator never reached " << rule;
    }
    EXPECT_GT(executions, 0);
}

}  // namespace
}  // namespace rollbot::core
