// The audit trail: each record reaches the store's hash chain and the `audit` log; a store that
// cannot keep it is counted and logged, and the log line is written anyway.
#include "bot/flow/audit_trail.hpp"

#include "test/support/flow_harness.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace rollbot::test {
namespace {

using core::AuditKind;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using namespace std::chrono_literals;

class AuditTrailTest : public ::testing::Test {
protected:
    [[nodiscard]] std::vector<core::AuditRecord> records(std::optional<std::string> id) {
        std::optional<core::RequestId> request;
        if (id) {
            request = core::RequestId{*id};
        }
        auto read = h.sqlite->audit_log(request);
        EXPECT_TRUE(read.has_value());
        return read ? *read : std::vector<core::AuditRecord>{};
    }

    /// Records `entry` and runs the loop until it is kept (or refused).
    bool record(core::AuditEntry entry) { return h.finish(audit.record(std::move(entry))); }

    FlowHarness h;
    core::AuditTrail audit{h.store, h.clock, h.audit_log, h.log, &h.metrics};
};

TEST_F(AuditTrailTest, ARecordReachesTheHashChainWithItsKindRequestAndActor) {
    EXPECT_TRUE(record({AuditKind::Step,
                        core::RequestId{"R7"},
                        core::UserId{"U0ALICE"},
                        "n=1 command=\"kubectl rollout undo\" outcome=succeeded"}));

    const auto stored = records("R7");
    ASSERT_EQ(stored.size(), 1U);
    EXPECT_EQ(stored[0].kind, "step");
    EXPECT_EQ(stored[0].request_id, core::RequestId{"R7"});
    EXPECT_EQ(stored[0].actor, "U0ALICE");
    EXPECT_EQ(stored[0].detail, "n=1 command=\"kubectl rollout undo\" outcome=succeeded");
    EXPECT_EQ(std::chrono::floor<std::chrono::milliseconds>(stored[0].at),
              std::chrono::floor<std::chrono::milliseconds>(h.clock.now()));
    EXPECT_FALSE(stored[0].hash.empty());

    const auto check = h.sqlite->verify_audit();
    ASSERT_TRUE(check.has_value());
    EXPECT_TRUE(check->ok) << check->problem;
    EXPECT_EQ(check->records, 1);

    EXPECT_THAT(h.logs(),
                HasSubstr("audit info step id=R7 actor=U0ALICE n=1 command=\"kubectl rollout "
                          "undo\" outcome=succeeded"));
    EXPECT_EQ(h.counter("rollbot_state_write_errors_total", {"audit"}), 0);
}

TEST_F(AuditTrailTest, AnEmptyActorIsRollbotInTheStoreAndTheLog) {
    EXPECT_TRUE(record({AuditKind::Report, core::RequestId{"R2"}, {}, "state=succeeded"}));
    const auto stored = records("R2");
    ASSERT_EQ(stored.size(), 1U);
    EXPECT_EQ(stored[0].actor, "rollbot");
    EXPECT_EQ(stored[0].kind, "report");
    EXPECT_THAT(h.logs(), HasSubstr("audit info report id=R2 actor=rollbot state=succeeded"));
}

TEST_F(AuditTrailTest, RecordsAreChainedInTheOrderWritten) {
    record({AuditKind::Request, core::RequestId{"R1"}, core::UserId{"U0ALICE"}, "a"});
    h.clock.advance(2s);
    record({AuditKind::Approval, core::RequestId{"R2"}, core::UserId{"U0BOB"}, "b"});
    record({AuditKind::Report, core::RequestId{"R1"}, {}, "c"});

    const auto all = records(std::nullopt);
    ASSERT_EQ(all.size(), 3U);
    EXPECT_EQ(all[0].detail, "a");
    EXPECT_EQ(all[1].detail, "b");
    EXPECT_EQ(all[1].kind, "approval");
    EXPECT_EQ(all[2].detail, "c");
    EXPECT_EQ(all[1].prev_hash, all[0].hash);
    EXPECT_EQ(all[2].prev_hash, all[1].hash);
    EXPECT_EQ(all[1].at - all[0].at, 2s);
    EXPECT_EQ(records("R1").size(), 2U);  // a request's own records, in order
}

TEST_F(AuditTrailTest, AStoreFailureIsCountedAndLoggedAndTheLogLineIsStillWritten) {
    h.store.fail("audit");
    EXPECT_FALSE(record({AuditKind::Step, core::RequestId{"R7"}, core::UserId{"U0ALICE"}, "n=1"}));

    EXPECT_EQ(h.counter("rollbot_state_write_errors_total", {"audit"}), 1);
    const std::string logs = h.logs();
    EXPECT_THAT(logs,
                HasSubstr("core error audit.write_failed id=R7 kind=step "
                          "error=state.audit: disk I/O error"));
    EXPECT_THAT(logs, HasSubstr("audit info step id=R7 actor=U0ALICE n=1"));
    h.store.heal_all();
    EXPECT_THAT(records("R7"), IsEmpty());

    EXPECT_TRUE(record({AuditKind::Step, core::RequestId{"R7"}, {}, "n=2"}));
    EXPECT_EQ(h.counter("rollbot_state_write_errors_total", {"audit"}), 1);
    EXPECT_EQ(records("R7").size(), 1U);
}

TEST_F(AuditTrailTest, TheAuditLogAloneWritesNothingToTheStore) {
    audit.log().info("command user=U0ALICE text=\"status\"");
    EXPECT_THAT(h.logs(), HasSubstr("audit info command user=U0ALICE text=\"status\""));
    EXPECT_THAT(h.logs(), Not(HasSubstr("core")));
    EXPECT_THAT(records(std::nullopt), IsEmpty());
}

}  // namespace
}  // namespace rollbot::test
