#include "adapters/console/console_transport.hpp"

#include "bot/logging.hpp"
#include "test/support/async.hpp"

#include <boost/asio/io_context.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>
#include <vector>

namespace rollbot::console {
namespace {

using Kind = ConsoleLine::Kind;
using ::testing::HasSubstr;

TEST(ConsoleLine, UnderstandsEveryConsoleCommand) {
    EXPECT_EQ(parse_console_line("/rollback backend abc1234f"),
              (ConsoleLine{Kind::Command, "backend abc1234f"}));
    EXPECT_EQ(parse_console_line("/rollback"), (ConsoleLine{Kind::Command, ""}));
    EXPECT_EQ(parse_console_line("  /as U0BOB "), (ConsoleLine{Kind::As, "U0BOB"}));
    EXPECT_EQ(parse_console_line("/in C0RANDOM"), (ConsoleLine{Kind::In, "C0RANDOM"}));
    EXPECT_EQ(parse_console_line("+white_check_mark"),
              (ConsoleLine{Kind::React, "white_check_mark"}));
    EXPECT_EQ(parse_console_line("+:x:"), (ConsoleLine{Kind::React, "x"}));
    EXPECT_EQ(parse_console_line("-white_check_mark"),
              (ConsoleLine{Kind::Unreact, "white_check_mark"}));
    EXPECT_EQ(parse_console_line("/wait").kind, Kind::Wait);
    EXPECT_EQ(parse_console_line("/help").kind, Kind::Help);
    EXPECT_EQ(parse_console_line("# step one").kind, Kind::Narration);
    EXPECT_EQ(parse_console_line("").kind, Kind::Empty);
    EXPECT_EQ(parse_console_line("/rollbackx").kind, Kind::Unknown);
    EXPECT_EQ(parse_console_line("hello bot").kind, Kind::Unknown);
}

TEST(RenderForTerminal, MentionsChannelsAndEntities) {
    core::ConsoleSettings c;
    c.users[core::UserId{"U0ALICE"}] = "alice";
    EXPECT_EQ(
        render_for_terminal("On-Call: <@U0ALICE> in <#C0INCIDENTS> &lt;b&gt; &amp; <@U0X>", c),
        "On-Call: @alice in #C0INCIDENTS <b> & @U0X");
}

// Records inbound events; idle at once.
class RecordingSink final : public core::InboundSink {
public:
    void on_inbound(core::Inbound e) override { events.push_back(std::move(e)); }
    boost::asio::awaitable<void> wait_idle() override {
        ++waits;
        co_return;
    }
    std::vector<core::Inbound> events;
    int waits = 0;
};

class ConsoleTransportTest : public ::testing::Test {
protected:
    ConsoleTransportTest() {
        EXPECT_EQ(::pipe(in_), 0);
        EXPECT_EQ(::pipe(out_), 0);
        console_.user = core::UserId{"U0ALICE"};
        console_.users[core::UserId{"U0ALICE"}] = "alice";
        console_.users[core::UserId{"U0BOB"}] = "bob";
        console_.usergroups[core::UsergroupId{"S0DBA"}] = {core::UserId{"U0BOB"}};
        console_.bots = {core::UserId{"U0ROLLBOT"}};
    }
    ~ConsoleTransportTest() override {
        for (int fd : {in_[0], in_[1], out_[0], out_[1]}) {
            if (fd >= 0) {
                ::close(fd);
            }
        }
    }
    void type(std::string_view text) {
        ASSERT_EQ(::write(in_[1], text.data(), text.size()), static_cast<ssize_t>(text.size()));
    }
    void end_input() {
        ::close(in_[1]);
        in_[1] = -1;
    }
    std::string output() {
        ::close(out_[1]);
        out_[1] = -1;
        std::string all;
        char buf[4096];
        for (ssize_t n; (n = ::read(out_[0], buf, sizeof buf)) > 0;) {
            all.append(buf, static_cast<std::size_t>(n));
        }
        return all;
    }
    ConsoleTransport make() {
        return ConsoleTransport{io_.get_executor(),
                                console_,
                                core::ChannelId{"C0INCIDENTS"},
                                in_[0],
                                out_[1],
                                clock_,
                                core::null_logger("console")};
    }

    boost::asio::io_context io_;
    core::SystemClock clock_;
    core::ConsoleSettings console_;
    int in_[2]{-1, -1};
    int out_[2]{-1, -1};
};

TEST_F(ConsoleTransportTest, TypedLinesBecomeSlackShapedEvents) {
    auto chat = make();
    RecordingSink sink;
    type("/rollback backend abc1234f --reason spike\n/as U0BOB\n/in C0RANDOM\n/rollback status");
    end_input();
    test::run_task(io_, chat.run(sink));
    ASSERT_EQ(sink.events.size(), 2U);
    const auto& first = std::get<core::SlashCommand>(sink.events[0]);
    EXPECT_EQ(first.user, core::UserId{"U0ALICE"});
    EXPECT_EQ(first.channel, core::ChannelId{"C0INCIDENTS"});
    EXPECT_EQ(first.text, "backend abc1234f --reason spike");
    EXPECT_EQ(first.command, "/rollback");
    const auto& second = std::get<core::SlashCommand>(sink.events[1]);
    EXPECT_EQ(second.user, core::UserId{"U0BOB"});
    EXPECT_EQ(second.channel, core::ChannelId{"C0RANDOM"});
    EXPECT_EQ(second.text, "status") << "the last line needs no newline";
    EXPECT_GE(sink.waits, 1) << "input end waits for running work";
    const auto out = output();
    EXPECT_THAT(out, HasSubstr("alice> /rollback backend abc1234f --reason spike"));
    EXPECT_THAT(out, HasSubstr("you are now bob (U0BOB)"));
}

TEST_F(ConsoleTransportTest, ReactionsTargetTheLatestTopLevelBotMessage) {
    auto chat = make();
    RecordingSink sink;
    auto card = test::run_task(
        io_,
        chat.post(core::OutboundMessage{core::ChannelId{"C0INCIDENTS"}, std::nullopt, "card"}));
    ASSERT_TRUE(card.has_value());
    auto reply = test::run_task(
        io_,
        chat.post(core::OutboundMessage{core::ChannelId{"C0INCIDENTS"}, card->ts, "in thread"}));
    ASSERT_TRUE(reply.has_value());
    EXPECT_NE(card->ts, reply->ts);
    type("/as U0BOB\n+white_check_mark\n-white_check_mark\n");
    end_input();
    test::run_task(io_, chat.run(sink));
    ASSERT_EQ(sink.events.size(), 2U);
    const auto& added = std::get<core::ReactionEvent>(sink.events[0]);
    EXPECT_TRUE(added.added);
    EXPECT_EQ(added.user, core::UserId{"U0BOB"});
    EXPECT_EQ(added.reaction, "white_check_mark");
    EXPECT_EQ(added.item, *card);
    const auto& removed = std::get<core::ReactionEvent>(sink.events[1]);
    EXPECT_FALSE(removed.added);
    EXPECT_NE(added.event_id, removed.event_id);
}

TEST_F(ConsoleTransportTest, PrintsPostsThreadsEditsAndEphemeralReplies) {
    auto chat = make();
    auto card = test::run_task(
        io_,
        chat.post(core::OutboundMessage{
            core::ChannelId{"C0INCIDENTS"}, std::nullopt, "⏳ R1 by <@U0ALICE>\nStatus: starting"}));
    ASSERT_TRUE(card.has_value());
    EXPECT_TRUE(core::is_channel_id(card->channel.value));
    (void)test::run_task(io_,
                         chat.post(core::OutboundMessage{card->channel, card->ts, "✅ step 1"}));
    (void)test::run_task(io_, chat.update(*card, "⏳ R1 by <@U0ALICE>\nStatus: done"));
    (void)test::run_task(
        io_,
        chat.reply(core::ReplyTarget{card->channel, core::UserId{"U0ALICE"}, core::Secret{}},
                   core::Visibility::Ephemeral,
                   "only for you"));
    auto missing = test::run_task(
        io_, chat.update(core::MessageRef{card->channel, core::MessageTs{"1.1"}}, "x"));
    EXPECT_FALSE(missing.has_value());
    const auto out = output();
    EXPECT_THAT(out, HasSubstr("rollbot → #C0INCIDENTS\n  ⏳ R1 by @alice\n  Status: starting"));
    EXPECT_THAT(out, HasSubstr("rollbot → thread \"⏳ R1 by @alice\"\n    ✅ step 1"));
    EXPECT_THAT(out, HasSubstr("edited \"⏳ R1 by @alice\"\n  ~ Status: done\n"));
    EXPECT_THAT(out, ::testing::Not(HasSubstr("~ ⏳ R1"))) << "only changed lines are reprinted";
    EXPECT_THAT(out, HasSubstr("only alice can see this\n  only for you"));
}

TEST_F(ConsoleTransportTest, DirectoryComesFromTheConsoleSettings) {
    auto chat = make();
    auto members = test::run_task(io_, chat.usergroup_members(core::UsergroupId{"S0DBA"}));
    ASSERT_TRUE(members.has_value());
    EXPECT_EQ(*members, std::vector<core::UserId>{core::UserId{"U0BOB"}});
    EXPECT_FALSE(
        test::run_task(io_, chat.usergroup_members(core::UsergroupId{"S0NONE"})).has_value());
    auto bot = test::run_task(io_, chat.user_info(core::UserId{"U0ROLLBOT"}));
    ASSERT_TRUE(bot.has_value());
    EXPECT_TRUE(bot->is_bot);
    auto bob = test::run_task(io_, chat.user_info(core::UserId{"U0BOB"}));
    EXPECT_EQ(bob->name, "bob");
    EXPECT_FALSE(bob->is_bot);
}

}  // namespace
}  // namespace rollbot::console
