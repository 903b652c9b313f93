#include "actions/alembic.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace rollbot::actions {
namespace {

using ::testing::ElementsAre;

// Reference §5, `alembic downgrade head:1975ea83b712 --sql` against PostgreSQL.
constexpr std::string_view kTwoSteps = R"(BEGIN;

-- Running downgrade 3f2a1b4c5d6e -> ae1027a6acf

DROP TABLE fee_payments;

UPDATE alembic_version SET version_num='ae1027a6acf' WHERE alembic_version.version_num = '3f2a1b4c5d6e';

-- Running downgrade ae1027a6acf -> 1975ea83b712

ALTER TABLE students DROP COLUMN fees_due;

UPDATE alembic_version SET version_num='1975ea83b712' WHERE alembic_version.version_num = 'ae1027a6acf';

COMMIT;
)";

TEST(AlembicCurrent, RevisionWithoutItsMarkers) {
    EXPECT_EQ(parse_alembic_current("3f2a1b4c5d6e (head)\n"), "3f2a1b4c5d6e");
    EXPECT_EQ(parse_alembic_current("ae1027a6acf\n"), "ae1027a6acf");
    EXPECT_EQ(parse_alembic_current(""), "");
    EXPECT_EQ(parse_alembic_current("\n  \n"), "");
}

TEST(AlembicCurrent, LoggingLinesAreNotARevision) {
    EXPECT_EQ(parse_alembic_current("INFO  [alembic.runtime.migration] Context impl "
                                    "PostgresqlImpl.\nae1027a6acf\n"),
              "ae1027a6acf");
}

TEST(AlembicOfflineDowngrade, StepsTargetAndDestructiveStatements) {
    const auto db = parse_offline_downgrade(kTwoSteps);
    EXPECT_THAT(db.downgrades,
                ElementsAre("3f2a1b4c5d6e -> ae1027a6acf", "ae1027a6acf -> 1975ea83b712"));
    EXPECT_EQ(db.target, "1975ea83b712");
    EXPECT_THAT(
        db.destructive,
        ElementsAre("DROP TABLE fee_payments;", "ALTER TABLE students DROP COLUMN fees_due;"))
        << "alembic_version bookkeeping is not data loss";
    EXPECT_EQ(db.sql, kTwoSteps);
}

TEST(AlembicOfflineDowngrade, ToBaseEndsAtBase) {
    const auto db = parse_offline_downgrade(
        "-- Running downgrade 1975ea83b712 -> \n\nDROP TABLE students;\n\n"
        "DELETE FROM alembic_version WHERE alembic_version.version_num = '1975ea83b712';\n\n"
        "DROP TABLE alembic_version;\n");
    EXPECT_EQ(db.target, "base");
    EXPECT_THAT(db.destructive, ElementsAre("DROP TABLE students;"));
}

TEST(AlembicOfflineDowngrade, AddingBackOrDroppingAConstraintIsNotDataLoss) {
    const auto db = parse_offline_downgrade(
        "-- Running downgrade b -> a\n\nALTER TABLE students ALTER COLUMN fees_due DROP NOT NULL;\n"
        "ALTER TABLE students DROP CONSTRAINT fees_positive;\nCREATE INDEX ix ON students (name);\n"
        "ALTER TABLE students\n    DROP COLUMN\n    notes;\nTRUNCATE fee_audit;\n"
        "DELETE FROM fee_payments WHERE amount = 0;\n");
    EXPECT_EQ(db.target, "a");
    EXPECT_THAT(db.destructive,
                ElementsAre("ALTER TABLE students DROP COLUMN notes;",
                            "TRUNCATE fee_audit;",
                            "DELETE FROM fee_payments WHERE amount = 0;"))
        << "statements split over lines are joined";
}

TEST(AlembicOfflineDowngrade, NothingRenderedHasNoTarget) {
    const auto db = parse_offline_downgrade("BEGIN;\n\nCOMMIT;\n");
    EXPECT_TRUE(db.downgrades.empty());
    EXPECT_FALSE(db.target.has_value());
    EXPECT_TRUE(db.destructive.empty());
}

}  // namespace
}  // namespace rollbot::actions
