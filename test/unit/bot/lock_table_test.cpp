#include "bot/lock_table.hpp"

#include <gtest/gtest.h>

namespace rollbot::core {
namespace {

LockHolder holder(const char* id) {
    return LockHolder{RequestId{id}, "x", UserId{"U0ALICE"}, std::chrono::system_clock::now()};
}

TEST(LockTable, OneRunPerTarget) {
    LockTable t;
    EXPECT_FALSE(t.try_acquire(lock_targets(ActionKind::Backend), holder("R1")));
    auto busy = t.try_acquire(lock_targets(ActionKind::Backend), holder("R2"));
    ASSERT_TRUE(busy);
    EXPECT_EQ(busy->holder.id, RequestId{"R1"});
    EXPECT_EQ(busy->target, "backend");
    EXPECT_FALSE(t.try_acquire(lock_targets(ActionKind::Frontend), holder("R3")))
        << "frontend is independent of backend";
}

TEST(LockTable, FullLocksEverythingOrNothing) {
    LockTable t;
    EXPECT_FALSE(t.try_acquire(lock_targets(ActionKind::Frontend), holder("R1")));
    auto busy = t.try_acquire(lock_targets(ActionKind::Full), holder("R2"));
    ASSERT_TRUE(busy);
    EXPECT_EQ(busy->holder.id, RequestId{"R1"});
    EXPECT_EQ(busy->target, "frontend");
    EXPECT_EQ(t.held().size(), 1U) << "a refused full rollback takes nothing";
    EXPECT_FALSE(t.try_acquire(lock_targets(ActionKind::Db), holder("R3")));
    t.release(RequestId{"R1"});
    EXPECT_TRUE(t.try_acquire(lock_targets(ActionKind::Sha), holder("R4"))) << "db is held by R3";
    t.release(RequestId{"R3"});
    EXPECT_FALSE(t.try_acquire(lock_targets(ActionKind::Sha), holder("R4")));
    EXPECT_EQ(t.held().size(), 3U);
}

}  // namespace
}  // namespace rollbot::core
