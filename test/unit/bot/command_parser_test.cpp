#include "bot/command.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace rollbot::core {
namespace {

using ::testing::HasSubstr;

Command parse_ok(std::string_view text) {
    auto r = parse_command(text);
    EXPECT_TRUE(r.has_value()) << "'" << text << "': " << (r ? "" : r.error().message);
    return r ? *r : Command{};
}

std::string parse_error(std::string_view text) {
    auto r = parse_command(text);
    EXPECT_FALSE(r.has_value()) << "'" << text << "' was accepted";
    if (r) {
        return {};
    }
    EXPECT_EQ(r.error().kind, ErrorKind::Invalid);
    return r.error().message;
}

RollbackRequest rollback_of(std::string_view text) {
    auto c = parse_ok(text);
    EXPECT_EQ(c.kind, CommandKind::Rollback) << text;
    return c.rollback.value_or(RollbackRequest{});
}

TEST(CommandParser, BareCommandIsOverviewAndRunsNothing) {
    auto c = parse_ok("");
    EXPECT_EQ(c.kind, CommandKind::Overview);
    EXPECT_FALSE(c.rollback);
    EXPECT_EQ(parse_ok("   ").kind, CommandKind::Overview);
}

TEST(CommandParser, EveryRunbookRollbackType) {
    auto full = rollback_of("full");
    EXPECT_EQ(full.action, ActionKind::Full);
    EXPECT_FALSE(full.sha);

    auto backend = rollback_of("backend");
    EXPECT_EQ(backend.action, ActionKind::Backend);
    EXPECT_FALSE(backend.sha);

    auto frontend = rollback_of("frontend");
    EXPECT_EQ(frontend.action, ActionKind::Frontend);

    auto db = rollback_of("db");
    EXPECT_EQ(db.action, ActionKind::Db);
    ASSERT_TRUE(db.db);
    EXPECT_EQ(db.db->alembic_argument(), "-1");

    auto sha = rollback_of("abc1234f");
    EXPECT_EQ(sha.action, ActionKind::Sha);
    EXPECT_EQ(sha.sha, "abc1234f");

    auto full_sha = rollback_of("full abc1234f");
    EXPECT_EQ(full_sha.action, ActionKind::Sha);
    EXPECT_EQ(full_sha.sha, "abc1234f");
}

TEST(CommandParser, BackendAndFrontendToASha) {
    auto b = rollback_of("backend abc1234f");
    EXPECT_EQ(b.action, ActionKind::Backend);
    EXPECT_EQ(b.sha, "abc1234f");
    auto f = rollback_of("frontend 5e6f7a8b");
    EXPECT_EQ(f.action, ActionKind::Frontend);
    EXPECT_EQ(f.sha, "5e6f7a8b");
}

TEST(CommandParser, ShaLengthsAndCase) {
    EXPECT_EQ(rollback_of("backend abcdef1").sha, "abcdef1");
    EXPECT_EQ(rollback_of("backend " + std::string(40, 'a')).sha, std::string(40, 'a'));
    EXPECT_EQ(rollback_of("backend ABC1234F").sha, "abc1234f") << "normalised to lower case";
    EXPECT_THAT(parse_error("backend abc123"), HasSubstr("6 characters"));
    EXPECT_THAT(parse_error("backend " + std::string(41, 'a')), HasSubstr("41 characters"));
}

TEST(CommandParser, TypoInShaIsAnErrorNeverAnotherRollback) {
    auto msg = parse_error("backend abc123g");
    EXPECT_THAT(msg, HasSubstr("'abc123g' is not a commit SHA"));
    EXPECT_THAT(parse_error("abc123g9"), HasSubstr("is not a commit SHA"));
}

TEST(CommandParser, DbTargets) {
    EXPECT_EQ(rollback_of("db -1").db->alembic_argument(), "-1");
    EXPECT_EQ(rollback_of("db -3").db->steps, 3);
    EXPECT_EQ(rollback_of("db ae1027a6acf").db->revision, "ae1027a6acf");
    EXPECT_EQ(rollback_of("db add_fees_2024").db->revision, "add_fees_2024");
    EXPECT_EQ(rollback_of("db " + std::string(64, 'x')).db->revision, std::string(64, 'x'));
    EXPECT_THAT(parse_error("db " + std::string(65, 'x')), HasSubstr("not an alembic revision"));
    EXPECT_THAT(parse_error("db -0"), HasSubstr("not a downgrade step count"));
    EXPECT_THAT(parse_error("db -100"), HasSubstr("not a downgrade step count"));
    EXPECT_THAT(parse_error("db +1"), HasSubstr("only downgrades"));
    EXPECT_THAT(parse_error("db base"), HasSubstr("symbolic target"));
    EXPECT_THAT(parse_error("db head"), HasSubstr("symbolic target"));
    EXPECT_THAT(parse_error("db ae10-27"), HasSubstr("not an alembic revision"));
}

TEST(CommandParser, DryRunAnywhereBeforeReason) {
    EXPECT_TRUE(rollback_of("--dry-run backend").dry_run);
    EXPECT_TRUE(rollback_of("backend --dry-run").dry_run);
    EXPECT_TRUE(rollback_of("backend --dry-run abc1234f").dry_run);
    EXPECT_EQ(rollback_of("backend --dry-run abc1234f").sha, "abc1234f");
    EXPECT_FALSE(rollback_of("backend").dry_run);
    auto c = parse_ok("backend --reason the --dry-run flag is in the reason");
    EXPECT_FALSE(c.rollback->dry_run);
    EXPECT_EQ(c.reason, "the --dry-run flag is in the reason");
    EXPECT_THAT(parse_error("backend --dry-run --dry-run"), HasSubstr("twice"));
}

TEST(CommandParser, ReasonIsEverythingToTheEndOfTheLine) {
    auto c = parse_ok("backend abc1234f --reason error rate spike after   deploy 42");
    EXPECT_EQ(c.reason, "error rate spike after   deploy 42");
    EXPECT_EQ(c.rollback->sha, "abc1234f");
    EXPECT_EQ(parse_ok("full --reason=p0 outage").reason, "p0 outage");
    EXPECT_EQ(parse_ok("full --reason $(rm -rf /) ; `id`").reason, "$(rm -rf /) ; `id`")
        << "a reason is free text: it is never passed to a process";
    EXPECT_THAT(parse_error("backend --reason"), HasSubstr("--reason needs a text"));
    EXPECT_THAT(parse_error("backend --reason    "), HasSubstr("--reason needs a text"));
}

TEST(CommandParser, EmDashAcceptedForDoubleDash) {
    auto c = parse_ok(
        "backend \xE2\x80\x94"
        "dry-run \xE2\x80\x94"
        "reason pods crash");
    EXPECT_TRUE(c.rollback->dry_run);
    EXPECT_EQ(c.reason, "pods crash");
    EXPECT_EQ(parse_ok("full \xE2\x80\x94reason=oops").reason, "oops");
}

TEST(CommandParser, ReadCommands) {
    EXPECT_EQ(parse_ok("status").kind, CommandKind::Status);
    EXPECT_EQ(parse_ok("help").kind, CommandKind::Help);
    EXPECT_EQ(parse_ok("verify").kind, CommandKind::Verify);
    EXPECT_EQ(parse_ok("advise").kind, CommandKind::Advise);
    auto h = parse_ok("history");
    EXPECT_EQ(h.kind, CommandKind::History);
    EXPECT_FALSE(h.deployment);
    EXPECT_EQ(parse_ok("history frontend").deployment, "frontend");
    EXPECT_THAT(parse_error("history db"), HasSubstr("backend or frontend"));
    EXPECT_THAT(parse_error("status now"), HasSubstr("unexpected 'now' after 'status'"));
}

TEST(CommandParser, CancelAndLogTakeARequestId) {
    EXPECT_FALSE(parse_ok("cancel").id);
    EXPECT_EQ(parse_ok("cancel R12").id, RequestId{"R12"});
    EXPECT_EQ(parse_ok("cancel 12").id, RequestId{"R12"});
    EXPECT_EQ(parse_ok("log #7").id, RequestId{"R7"});
    EXPECT_EQ(parse_ok("cancel R3 --reason wrong target").reason, "wrong target");
    EXPECT_THAT(parse_error("cancel R0"), HasSubstr("not a request id"));
    EXPECT_THAT(parse_error("log ../etc"), HasSubstr("not a request id"));
}

TEST(CommandParser, OptionsOnlyWhereTheyMeanSomething) {
    EXPECT_THAT(parse_error("status --dry-run"), HasSubstr("applies only to a rollback"));
    EXPECT_THAT(parse_error("status --reason x"), HasSubstr("--reason applies only"));
    EXPECT_THAT(parse_error("--dry-run"), HasSubstr("say what to roll back"));
    EXPECT_THAT(parse_error("--reason hi"), HasSubstr("say what to roll back"));
    EXPECT_THAT(parse_error("backend --force"), HasSubstr("unknown option '--force'"));
    EXPECT_THAT(parse_error("backend --dryrun"), HasSubstr("did you mean '--dry-run'"));
}

TEST(CommandParser, UnknownWordsSuggestTheClosestCommand) {
    EXPECT_THAT(parse_error("bakend"), HasSubstr("did you mean 'backend'"));
    EXPECT_THAT(parse_error("stauts"), HasSubstr("did you mean 'status'"));
    EXPECT_THAT(parse_error("deploy"), HasSubstr("unknown command 'deploy'"));
    EXPECT_THAT(parse_error("backend abc1234f extra"), HasSubstr("unexpected 'extra'"));
}

TEST(CommandParser, KeywordsAreCaseInsensitive) {
    EXPECT_EQ(rollback_of("Backend").action, ActionKind::Backend);
    EXPECT_EQ(parse_ok("STATUS").kind, CommandKind::Status);
}

TEST(CommandParser, HostileInputIsRejected) {
    for (const char* text : {"backend $(rm -rf /)",
                             "backend abc1234f;rm",
                             "backend `id`",
                             "backend abc1234f|sh",
                             "backend ../../etc/passwd",
                             "frontend abc1234f&&reboot",
                             "db -1;DROP",
                             "db $(curl evil)",
                             "db ../../x",
                             "full 'abc1234f'",
                             "backend abc1234f\"",
                             "history backend;ls"}) {
        SCOPED_TRACE(text);
        auto r = parse_command(text);
        EXPECT_FALSE(r.has_value());
    }
}

TEST(CommandParser, ControlCharactersAreRejected) {
    EXPECT_THAT(parse_error("backend\nabc1234f"), HasSubstr("control character"));
    EXPECT_THAT(parse_error(std::string("backend\0x", 9)), HasSubstr("control character"));
    EXPECT_THAT(parse_error("backend \x1b[31m"), HasSubstr("control character"));
}

TEST(CommandParser, VeryLongInputIsRejectedWithoutEchoingIt) {
    auto msg = parse_error("backend " + std::string(5000, 'a'));
    EXPECT_THAT(msg, HasSubstr("at most 1000"));
    EXPECT_LT(msg.size(), 200U);
    auto long_word = parse_error(std::string(900, 'z'));
    EXPECT_THAT(long_word, HasSubstr("(900 characters)"));
    EXPECT_LT(long_word.size(), 200U);
}

TEST(CommandParser, UnicodeLookAlikesAreNamed) {
    // Cyrillic "а" (U+0430) in "bаckend".
    EXPECT_THAT(parse_error("b\xD0\xB0"
                            "ckend"),
                HasSubstr("U+0430"));
    // Full-width digit one (U+FF11) in a SHA.
    EXPECT_THAT(parse_error("backend abc123\xEF\xBC\x91"), HasSubstr("U+FF11"));
    // Non-breaking space (U+00A0) glued between words.
    EXPECT_THAT(parse_error("backend\xC2\xA0"
                            "abc1234f"),
                HasSubstr("U+00A0"));
    // An en dash is not the em dash we accept.
    EXPECT_THAT(parse_error("backend \xE2\x80\x93"
                            "dry-run"),
                HasSubstr("U+2013"));
}

TEST(CommandParser, DescribeNamesTheRollback) {
    EXPECT_EQ(describe(rollback_of("backend abc1234f")), "backend rollback to abc1234f");
    EXPECT_EQ(describe(rollback_of("backend")), "backend rollback to the previous revision");
    EXPECT_EQ(describe(rollback_of("abc1234f")), "full rollback to abc1234f");
    EXPECT_EQ(describe(rollback_of("db -2")), "DB downgrade -2");
    EXPECT_EQ(describe(rollback_of("db ae1027a6acf")), "DB downgrade to ae1027a6acf");
}

TEST(CommandParser, UsageListsEveryForm) {
    const std::string usage(command_usage());
    for (const char* form : {"full",
                             "<sha>",
                             "backend",
                             "frontend",
                             "db [-N|<revision>]",
                             "status",
                             "history",
                             "verify",
                             "advise",
                             "cancel",
                             "log",
                             "help",
                             "--dry-run",
                             "--reason"}) {
        EXPECT_THAT(usage, HasSubstr(form));
    }
}

}  // namespace
}  // namespace rollbot::core
