#include "adapters/slack/envelope_codec.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace rollbot::slack {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;
using Body = decltype(Decoded::body);

// Shapes as in the Socket Mode reference (§1.3, §2.3, §2.5, §5.1), values made up.
constexpr std::string_view kHello = R"({"type":"hello","num_connections":1,
  "debug_info":{"host":"applink-1","build_number":14,"approximate_connection_time":18060,
                "started":"2020-10-11 12:12:12.120"},
  "connection_info":{"app_id":"A0469A3MM9D"}})";

constexpr std::string_view kSlashCommand = R"({"envelope_id":"1d2f3a4b-0000-4c5d-9e8f-aa11bb22cc33",
  "type":"slash_commands","accepts_response_payload":true,
  "payload":{"token":"legacyVerificationT0ken","team_id":"T0001","team_domain":"preskool",
    "channel_id":"C0INCIDENTS","channel_name":"incidents","user_id":"U012AB3CD",
    "user_name":"alice","command":"/rollback","text":"backend abc1234f",
    "api_app_id":"A0469A3MM9D","is_enterprise_install":"false",
    "response_url":"https://hooks.slack.com/commands/T0001/1234/abcdSECRETxyz",
    "trigger_id":"1234.5678.abcd"}})";

constexpr std::string_view kReactionAdded = R"({"envelope_id":"e-react-1","type":"events_api",
  "accepts_response_payload":false,"retry_attempt":0,"retry_reason":"",
  "payload":{"token":"legacy","team_id":"T0001","api_app_id":"A0469A3MM9D",
    "event":{"type":"reaction_added","user":"U123ABC456","reaction":"thumbsup::skin-tone-2",
             "item_user":"U222222222",
             "item":{"type":"message","channel":"C123ABC456","ts":"1360782400.498405"},
             "event_ts":"1360782804.083113"},
    "type":"event_callback","event_id":"Ev0PV52K21","event_time":1610241741,
    "authorizations":[{"enterprise_id":null,"team_id":"T0001","user_id":"U0BOT","is_bot":true,
                       "is_enterprise_install":false}],
    "is_ext_shared_channel":false,"event_context":"4-abc"}})";

Decoded decode(std::string_view text) {
    return decode_frame(text);
}

const Ignored& ignored_of(const Decoded& d) {
    static const Ignored kNotIgnored{"<not ignored>"};
    const auto* ignored = std::get_if<Ignored>(&d.body);
    return ignored == nullptr ? kNotIgnored : *ignored;
}

// A reason for the log must describe, never echo: no tokens, tickets or URLs.
void expect_clean_why(const Decoded& d) {
    if (const auto* ignored = std::get_if<Ignored>(&d.body)) {
        EXPECT_FALSE(ignored->why.empty());
        for (const char* secret : {"xoxb-",
                                   "xapp-",
                                   "xoxp-",
                                   "https:",
                                   "hooks.slack",
                                   "ticket",
                                   "SECRET",
                                   "legacyVerification"}) {
            EXPECT_THAT(ignored->why, Not(HasSubstr(secret))) << ignored->why;
        }
    }
}

json parsed(std::string_view text) {
    return json::parse(text);
}

TEST(EnvelopeCodecHello, ReadsConnectionDetails) {
    const Decoded d = decode(kHello);
    EXPECT_EQ(d.envelope_id, std::nullopt);
    EXPECT_EQ(d.body, (Body{Hello{1, std::chrono::seconds{18060}, "A0469A3MM9D", "applink-1"}}));
}

TEST(EnvelopeCodecHello, EveryFieldIsOptional) {
    EXPECT_EQ(decode(R"({"type":"hello"})").body, (Body{Hello{}}));
    // Wrong types in debug fields do not cost us the connection: hello is still hello.
    const Decoded d = decode(
        R"({"type":"hello","num_connections":"ten","debug_info":{"host":7,
            "approximate_connection_time":-5},"connection_info":["A1"]})");
    EXPECT_EQ(d.body, (Body{Hello{}}));
    const Decoded huge = decode(
        R"({"type":"hello","num_connections":99999999999999999999,
            "debug_info":{"approximate_connection_time":1e300}})");
    EXPECT_EQ(huge.body, (Body{Hello{}}));
}

TEST(EnvelopeCodecHello, ReportsGhostConnections) {
    const Decoded d = decode(R"({"type":"hello","num_connections":10})");
    ASSERT_TRUE(std::holds_alternative<Hello>(d.body));
    EXPECT_EQ(std::get<Hello>(d.body).num_connections, 10);
}

TEST(EnvelopeCodecDisconnect, KnowsEveryReason) {
    const std::vector<std::pair<std::string, DisconnectReason>> cases = {
        {"warning", DisconnectReason::Warning},
        {"refresh_requested", DisconnectReason::RefreshRequested},
        {"link_disabled", DisconnectReason::LinkDisabled},
        {"too_many_websockets", DisconnectReason::TooManyWebsockets},
    };
    for (const auto& [raw, reason] : cases) {
        const std::string frame =
            R"({"type":"disconnect","reason":")" + raw + R"(","debug_info":{"host":"applink-13"}})";
        const Decoded d = decode(frame);
        EXPECT_EQ(d.envelope_id, std::nullopt) << raw;
        EXPECT_EQ(d.body, (Body{Disconnect{reason, raw}})) << raw;
    }
}

TEST(EnvelopeCodecDisconnect, TooManyWebsocketsFixtureWithExtraFields) {
    const Decoded d = decode(
        R"({"type":"disconnect","reason":"too_many_websockets","num_connections":11,
            "debug_info":{"host":"applink-7"},"connection_info":{"app_id":"A1"}})");
    EXPECT_EQ(d.body,
              (Body{Disconnect{DisconnectReason::TooManyWebsockets, "too_many_websockets"}}));
}

TEST(EnvelopeCodecDisconnect, UnknownReasonIsKeptRaw) {
    EXPECT_EQ(decode(R"({"type":"disconnect","reason":"maintenance_window"})").body,
              (Body{Disconnect{DisconnectReason::Unknown, "maintenance_window"}}));
    EXPECT_EQ(decode(R"({"type":"disconnect"})").body,
              (Body{Disconnect{DisconnectReason::Unknown, ""}}));
    EXPECT_EQ(decode(R"({"type":"disconnect","reason":42})").body,
              (Body{Disconnect{DisconnectReason::Unknown, ""}}));
    // Case matters: Slack's reasons are lower case.
    EXPECT_EQ(
        std::get<Disconnect>(decode(R"({"type":"disconnect","reason":"Warning"})").body).reason,
        DisconnectReason::Unknown);
}

TEST(EnvelopeCodecSlashCommand, DecodesTheReferenceExample) {
    const Decoded d = decode(kSlashCommand);
    ASSERT_EQ(d.envelope_id, core::EnvelopeId{"1d2f3a4b-0000-4c5d-9e8f-aa11bb22cc33"});
    ASSERT_TRUE(std::holds_alternative<SlashCommandEnvelope>(d.body)) << ignored_of(d).why;
    const auto& env = std::get<SlashCommandEnvelope>(d.body);
    EXPECT_TRUE(env.accepts_response_payload);
    const core::SlashCommand expected{
        core::UserId{"U012AB3CD"},
        "alice",
        core::ChannelId{"C0INCIDENTS"},
        "/rollback",
        "backend abc1234f",
        core::ReplyTarget{
            core::ChannelId{"C0INCIDENTS"},
            core::UserId{"U012AB3CD"},
            core::Secret{"https://hooks.slack.com/commands/T0001/1234/abcdSECRETxyz"}}};
    EXPECT_EQ(env.command, expected);
}

TEST(EnvelopeCodecSlashCommand, TextMayBeAbsentOrEscapedMentions) {
    json frame = parsed(kSlashCommand);
    frame["payload"].erase("text");
    frame["payload"].erase("user_name");
    frame["payload"].erase("response_url");
    frame.erase("accepts_response_payload");
    Decoded d = decode(frame.dump());
    ASSERT_TRUE(std::holds_alternative<SlashCommandEnvelope>(d.body)) << ignored_of(d).why;
    const auto& env = std::get<SlashCommandEnvelope>(d.body);
    EXPECT_EQ(env.command.text, "");
    EXPECT_EQ(env.command.user_name, "");
    EXPECT_TRUE(env.command.reply.response_url.empty());
    EXPECT_FALSE(env.accepts_response_payload);

    frame["payload"]["text"] = "status <@U0BOB|bob> <#C0OPS|ops> \xF0\x9F\x9A\x80";
    d = decode(frame.dump());
    ASSERT_TRUE(std::holds_alternative<SlashCommandEnvelope>(d.body));
    EXPECT_EQ(std::get<SlashCommandEnvelope>(d.body).command.text,
              "status <@U0BOB|bob> <#C0OPS|ops> \xF0\x9F\x9A\x80");
}

TEST(EnvelopeCodecSlashCommand, RequiresSlackShapedIdsAndACommand) {
    const std::vector<std::pair<std::string, json>> broken = {
        {"user_id", "alice"},
        {"user_id", "u012ab3cd"},
        {"user_id", ""},
        {"user_id", "C0INCIDENTS"},
        {"channel_id", "#general"},
        {"channel_id", "U012AB3CD"},
        {"channel_id", "C0<script>"},
        {"command", ""},
    };
    for (const auto& [key, value] : broken) {
        json frame = parsed(kSlashCommand);
        frame["payload"][key] = value;
        const Decoded d = decode(frame.dump());
        EXPECT_TRUE(std::holds_alternative<Ignored>(d.body)) << key << "=" << value;
        EXPECT_EQ(d.envelope_id, core::EnvelopeId{"1d2f3a4b-0000-4c5d-9e8f-aa11bb22cc33"});
        expect_clean_why(d);
    }
    for (const char* key : {"user_id", "channel_id", "command"}) {
        json frame = parsed(kSlashCommand);
        frame["payload"].erase(key);
        EXPECT_TRUE(std::holds_alternative<Ignored>(decode(frame.dump()).body)) << key;
    }
}

TEST(EnvelopeCodecSlashCommand, AcceptsWorkspaceUsersAndPrivateChannels) {
    json frame = parsed(kSlashCommand);
    frame["payload"]["user_id"] = "W123A4BC5";
    frame["payload"]["channel_id"] = "G0PRIVATE";
    const Decoded d = decode(frame.dump());
    ASSERT_TRUE(std::holds_alternative<SlashCommandEnvelope>(d.body)) << ignored_of(d).why;
    EXPECT_EQ(std::get<SlashCommandEnvelope>(d.body).command.user, core::UserId{"W123A4BC5"});
}

TEST(EnvelopeCodecEvents, ReactionAddedKeepsSkinToneAndOpaqueTs) {
    const Decoded d = decode(kReactionAdded);
    EXPECT_EQ(d.envelope_id, core::EnvelopeId{"e-react-1"});
    ASSERT_TRUE(std::holds_alternative<EventEnvelope>(d.body)) << ignored_of(d).why;
    const auto& env = std::get<EventEnvelope>(d.body);
    EXPECT_EQ(env.event_id, "Ev0PV52K21");
    EXPECT_EQ(env.event_type, "reaction_added");
    EXPECT_EQ(env.retry_attempt, 0);
    EXPECT_EQ(env.retry_reason, "");
    const core::ReactionEvent expected{
        true,
        core::UserId{"U123ABC456"},
        "thumbsup::skin-tone-2",
        core::MessageRef{core::ChannelId{"C123ABC456"}, core::MessageTs{"1360782400.498405"}},
        "Ev0PV52K21"};
    EXPECT_EQ(env.reaction, expected);
}

TEST(EnvelopeCodecEvents, ReactionRemoved) {
    json frame = parsed(kReactionAdded);
    frame["payload"]["event"]["type"] = "reaction_removed";
    frame["payload"]["event"]["reaction"] = "white_check_mark";
    frame["payload"]["event"]["item"]["ts"] = "1700000000.000100";  // trailing zeros survive
    const Decoded d = decode(frame.dump());
    ASSERT_TRUE(std::holds_alternative<EventEnvelope>(d.body));
    const auto& reaction = std::get<EventEnvelope>(d.body).reaction;
    ASSERT_TRUE(reaction.has_value());
    EXPECT_FALSE(reaction->added);
    EXPECT_EQ(reaction->reaction, "white_check_mark");
    EXPECT_EQ(reaction->item.ts, core::MessageTs{"1700000000.000100"});
}

TEST(EnvelopeCodecEvents, ReactionOnAFileOrIncompleteHasNoReaction) {
    std::vector<json> events;
    json file = parsed(kReactionAdded);
    file["payload"]["event"]["item"] = {{"type", "file"}, {"file", "F0123ABC"}};
    events.push_back(file);
    json comment = parsed(kReactionAdded);
    comment["payload"]["event"]["item"] = {
        {"type", "file_comment"}, {"file_comment", "Fc0123"}, {"file", "F0123ABC"}};
    events.push_back(comment);
    for (const char* key : {"user", "reaction", "item"}) {
        json missing = parsed(kReactionAdded);
        missing["payload"]["event"].erase(key);
        events.push_back(missing);
    }
    for (const char* key : {"channel", "ts", "type"}) {
        json missing = parsed(kReactionAdded);
        missing["payload"]["event"]["item"].erase(key);
        events.push_back(missing);
    }
    json float_ts = parsed(kReactionAdded);  // a ts as a number would lose digits: refuse it
    float_ts["payload"]["event"]["item"]["ts"] = 1360782400.498405;
    events.push_back(float_ts);
    json bad_user = parsed(kReactionAdded);
    bad_user["payload"]["event"]["user"] = "xoxb-1111-2222-secret";
    events.push_back(bad_user);
    for (const json& frame : events) {
        const Decoded d = decode(frame.dump());
        ASSERT_TRUE(std::holds_alternative<EventEnvelope>(d.body)) << frame.dump();
        const auto& env = std::get<EventEnvelope>(d.body);
        EXPECT_EQ(env.event_type, "reaction_added");
        EXPECT_EQ(env.event_id, "Ev0PV52K21");
        EXPECT_EQ(env.reaction, std::nullopt) << frame.dump();
    }
}

TEST(EnvelopeCodecEvents, RetriesAreDecodedNotDropped) {
    for (int attempt = 1; attempt <= 3; ++attempt) {
        json frame = parsed(kReactionAdded);
        frame["retry_attempt"] = attempt;
        frame["retry_reason"] = attempt == 3 ? "http_timeout" : "timeout";
        const Decoded d = decode(frame.dump());
        ASSERT_TRUE(std::holds_alternative<EventEnvelope>(d.body));
        const auto& env = std::get<EventEnvelope>(d.body);
        EXPECT_EQ(env.retry_attempt, attempt);
        EXPECT_EQ(env.retry_reason, attempt == 3 ? "http_timeout" : "timeout");
        EXPECT_EQ(env.event_id, "Ev0PV52K21");  // the same key as the first delivery
        EXPECT_TRUE(env.reaction.has_value());
    }
}

TEST(EnvelopeCodecEvents, OtherEventTypesAreKeptByNameOnly) {
    const Decoded d = decode(
        R"({"envelope_id":"e-2","type":"events_api","accepts_response_payload":false,
            "payload":{"event_id":"Ev2","type":"event_callback",
              "event":{"type":"app_mention","user":"U0ALICE","text":"<@U0BOT> hi",
                       "ts":"1515449522.000016","channel":"C0OPS","event_ts":"1515449522000016"}}})");
    EXPECT_EQ(d.envelope_id, core::EnvelopeId{"e-2"});
    EXPECT_EQ(d.body, (Body{EventEnvelope{"Ev2", "app_mention", 0, "", {}}}));
}

TEST(EnvelopeCodecInteractive, ReadsPayloadType) {
    const Decoded d = decode(
        R"({"envelope_id":"e-3","type":"interactive","accepts_response_payload":true,
            "payload":{"type":"block_actions","user":{"id":"U0ALICE","username":"alice"},
              "response_url":"https://hooks.slack.com/actions/T/1/SECRET",
              "actions":[{"action_id":"approve","value":"R12"}]}})");
    EXPECT_EQ(d.envelope_id, core::EnvelopeId{"e-3"});
    EXPECT_EQ(d.body, (Body{InteractiveEnvelope{"block_actions"}}));
    EXPECT_EQ(
        decode(R"({"envelope_id":"e-4","type":"interactive","payload":{"type":"shortcut"}})").body,
        (Body{InteractiveEnvelope{"shortcut"}}));
}

TEST(EnvelopeCodecUnknown, UnknownTypeIsIgnoredButAcked) {
    const Decoded d = decode(R"({"envelope_id":"e-5","type":"app_rate_limited","payload":{}})");
    EXPECT_EQ(d.envelope_id, core::EnvelopeId{"e-5"});
    EXPECT_THAT(ignored_of(d).why, HasSubstr("unknown envelope type"));
    EXPECT_THAT(ignored_of(d).why, HasSubstr("app_rate_limited"));
}

TEST(EnvelopeCodecHostile, SecretsNeverReachTheLogReason) {
    const std::vector<std::string> frames = {
        R"({"envelope_id":"e","type":"xoxb-1111-2222-abcdef","payload":{}})",
        R"({"envelope_id":"e","type":"https://hooks.slack.com/commands/SECRET"})",
        R"({"envelope_id":"e","type":"wss://x/link/?ticket=1234"})",
        R"({"envelope_id":"e","type":"nope","token":"xapp-1-A0-99-ff","payload":{"t":"xoxb-1"}})",
        R"({"envelope_id":"e","type":"slash_commands","payload":{"user_id":"xoxb-1-2-3",
            "channel_id":"C0OPS","command":"/rollback"}})",
        R"({"envelope_id":"e","type":"slash_commands","payload":{"user_id":"U0ALICE",
            "channel_id":"https://hooks.slack.com/SECRET","command":"/rollback"}})",
        R"({"envelope_id":"e","type":"slash_commands","payload":{"user_id":"U0ALICE",
            "channel_id":"C0OPS","command":"/rollback","text":["xoxb-9"],
            "response_url":"https://hooks.slack.com/SECRET"}})",
        "{\"envelope_id\":\"e\",\"type\":\"events_api\",\"token\":\"xoxb-1\",\"x\":\"\xff\"}",
    };
    for (const std::string& frame : frames) {
        const Decoded d = decode(frame);
        EXPECT_TRUE(std::holds_alternative<Ignored>(d.body)) << frame;
        EXPECT_EQ(d.envelope_id, core::EnvelopeId{"e"}) << frame;
        expect_clean_why(d);
    }
}

TEST(EnvelopeCodecHostile, NeverThrowsOnGarbage) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"empty", ""},
        {"null", "null"},
        {"array", R"([{"envelope_id":"e","type":"events_api"}])"},
        {"number", "42"},
        {"string", R"("hello")"},
        {"truncated", R"({"envelope_id":"e1","type":"slash_comm)"},
        {"trailing garbage", R"({"type":"hello"} {"type":"hello"})"},
        {"comment", R"({"type":"hello" /* hi */})"},
        {"nul byte", std::string{"{\"type\":\"hello\"\0}", 17}},
        {"invalid utf-8", "{\"type\":\"\xc3\x28\"}"},
        {"lone surrogate", R"({"type":"\ud800"})"},
        {"type is number", R"({"envelope_id":"e","type":1})"},
        {"type is null", R"({"envelope_id":"e","type":null})"},
        {"type missing", R"({"envelope_id":"e"})"},
        {"envelope_id is number", R"({"envelope_id":1,"type":"events_api","payload":{}})"},
        {"payload is string", R"({"envelope_id":"e","type":"events_api","payload":"{}"})"},
        {"payload is array", R"({"envelope_id":"e","type":"slash_commands","payload":[]})"},
        {"event is null", R"({"envelope_id":"e","type":"events_api","payload":{"event":null}})"},
        {"interactive no payload", R"({"envelope_id":"e","type":"interactive"})"},
    };
    for (const auto& [name, frame] : cases) {
        Decoded d;
        EXPECT_NO_THROW(d = decode_frame(frame)) << name;
        EXPECT_TRUE(std::holds_alternative<Ignored>(d.body)) << name;
        expect_clean_why(d);
    }
    EXPECT_EQ(decode_frame(R"({"envelope_id":1,"type":"hello"})").envelope_id, std::nullopt);
}

TEST(EnvelopeCodecHostile, EnvelopeWithoutIdIsNotActedOn) {
    json frame = parsed(kSlashCommand);
    frame.erase("envelope_id");
    Decoded d = decode(frame.dump());
    EXPECT_EQ(d.envelope_id, std::nullopt);
    EXPECT_TRUE(std::holds_alternative<Ignored>(d.body));
    frame["envelope_id"] = "";
    d = decode(frame.dump());
    EXPECT_EQ(d.envelope_id, std::nullopt);
    EXPECT_TRUE(std::holds_alternative<Ignored>(d.body));
}

TEST(EnvelopeCodecHostile, MalformedFrameIsStillAcked) {
    // Invalid UTF-8 in the command text: unusable, but acked so Slack does not redeliver.
    const std::string frame =
        "{\"envelope_id\":\"e-bad\",\"type\":\"slash_commands\",\"payload\":{\"text\":\"\xff\"}}";
    const Decoded d = decode(frame);
    EXPECT_EQ(d.envelope_id, core::EnvelopeId{"e-bad"});
    EXPECT_THAT(ignored_of(d).why, HasSubstr("malformed JSON"));
}

// Every value of a frame, nested ones included, by JSON pointer.
void collect_paths(const json& node,
                   const json::json_pointer& here,
                   std::vector<json::json_pointer>& paths) {
    if (!here.empty()) {
        paths.push_back(here);
    }
    if (node.is_object()) {
        for (const auto& [key, value] : node.items()) {
            collect_paths(value, here / key, paths);
        }
    }
}

TEST(EnvelopeCodecHostile, WrongTypeInEveryField) {
    const std::vector<json> wrong = {nullptr,
                                     7,
                                     -1,
                                     1.5,
                                     true,
                                     json::array(),
                                     json::object(),
                                     "xoxb-123-secret",
                                     std::string(300, 'x')};
    for (std::string_view valid : {kHello, kSlashCommand, kReactionAdded}) {
        const json base = parsed(valid);
        std::vector<json::json_pointer> paths;
        collect_paths(base, json::json_pointer{}, paths);
        for (const auto& path : paths) {
            for (const json& value : wrong) {
                json frame = base;
                frame[path] = value;
                Decoded d;
                ASSERT_NO_THROW(d = decode_frame(frame.dump())) << path << "=" << value;
                expect_clean_why(d);
                if (const auto* cmd = std::get_if<SlashCommandEnvelope>(&d.body)) {
                    EXPECT_TRUE(core::is_user_id(cmd->command.user.str())) << path;
                    EXPECT_TRUE(core::is_channel_id(cmd->command.channel.str())) << path;
                    EXPECT_FALSE(cmd->command.command.empty()) << path;
                }
                if (const auto* event = std::get_if<EventEnvelope>(&d.body);
                    event != nullptr && event->reaction) {
                    EXPECT_TRUE(core::is_user_id(event->reaction->user.str())) << path;
                    EXPECT_FALSE(event->reaction->item.ts.empty()) << path;
                }
            }
        }
    }
}

TEST(EnvelopeCodecHostile, EveryTruncationIsSafe) {
    for (std::string_view valid : {kHello, kSlashCommand, kReactionAdded}) {
        const std::string expected_id = parsed(valid).value("envelope_id", "");
        for (std::size_t n = 0; n < valid.size(); ++n) {
            Decoded d;
            ASSERT_NO_THROW(d = decode_frame(valid.substr(0, n))) << n;
            ASSERT_TRUE(std::holds_alternative<Ignored>(d.body)) << n;
            if (d.envelope_id) {
                EXPECT_EQ(d.envelope_id->str(), expected_id) << n;
            }
        }
    }
}

TEST(EnvelopeCodecHostile, DeepNesting) {
    std::string hundred = R"({"envelope_id":"e-deep","type":"events_api","payload":)";
    for (int i = 0; i < 100; ++i) {
        hundred += R"({"event":)";
    }
    hundred += "1";
    hundred += std::string(100, '}') + "}";
    const Decoded d = decode(hundred);
    EXPECT_EQ(d.envelope_id, core::EnvelopeId{"e-deep"});
    EXPECT_TRUE(std::holds_alternative<Ignored>(d.body));

    // Just under the size limit, nested as deep as it gets: still a hello, no stack overflow.
    const std::size_t depth = (kMaxFrameBytes - 64) / 2;
    const std::string brackets = std::string(depth, '[') + std::string(depth, ']');
    EXPECT_THAT(ignored_of(decode(brackets)).why, HasSubstr("not a JSON object"));
    EXPECT_TRUE(
        std::holds_alternative<Hello>(decode(R"({"type":"hello","x":)" + brackets + "}").body));
    EXPECT_THAT(ignored_of(decode(std::string(depth, '{'))).why, HasSubstr("malformed"));
}

TEST(EnvelopeCodecHostile, OversizedFrameIsNotParsedButAcked) {
    const std::string filler(std::size_t{10} * 1024 * 1024, 'a');
    const std::string front =
        R"({"envelope_id":"e-big","type":"events_api","payload":{"text":")" + filler + "\"}}";
    Decoded d = decode(front);
    EXPECT_EQ(d.envelope_id, core::EnvelopeId{"e-big"});
    EXPECT_EQ(ignored_of(d).why, "frame too large: " + std::to_string(front.size()) + " bytes");

    // The id after the payload is found too; look-alikes inside strings or nested objects not.
    const std::string back = R"({"payload":{"envelope_id":"nested","text":"\"envelope_id\":\"x\"",)"
                             R"("f":")" +
                             filler + R"("},"type":"events_api", "envelope_id" : "e-end"})";
    d = decode(back);
    EXPECT_EQ(d.envelope_id, core::EnvelopeId{"e-end"});
    expect_clean_why(d);

    const std::string none =
        R"({"type":"events_api","payload":{"envelope_id":"nested","f":")" + filler + "\"}}";
    EXPECT_EQ(decode(none).envelope_id, std::nullopt);
    const std::string token_id = R"({"envelope_id":"xoxb-1-2","f":")" + filler + "\"}";
    expect_clean_why(decode(token_id));
}

TEST(EnvelopeCodecHostile, SizeLimitIsExact) {
    std::string frame = R"({"type":"hello","pad":"")";
    frame.insert(frame.size() - 1, kMaxFrameBytes - frame.size() - 1, ' ');
    frame += "}";
    ASSERT_EQ(frame.size(), kMaxFrameBytes);
    EXPECT_TRUE(std::holds_alternative<Hello>(decode(frame).body));
    frame.insert(frame.size() - 1, " ");
    EXPECT_TRUE(std::holds_alternative<Ignored>(decode(frame).body));
}

TEST(EnvelopeCodecAck, PlainAckIsCompactAndExact) {
    EXPECT_EQ(encode_ack(core::EnvelopeId{"1d2f3a4b-0000-4c5d-9e8f-aa11bb22cc33"}),
              R"({"envelope_id":"1d2f3a4b-0000-4c5d-9e8f-aa11bb22cc33"})");
}

TEST(EnvelopeCodecAck, AckWithPayload) {
    EXPECT_EQ(
        encode_ack(core::EnvelopeId{"e1"},
                   R"({ "response_type" : "ephemeral", "text" : "Rolling back…" })"),
        R"({"envelope_id":"e1","payload":{"response_type":"ephemeral","text":"Rolling back…"}})");
    EXPECT_EQ(encode_ack(core::EnvelopeId{"e1"}, "{}"), R"({"envelope_id":"e1","payload":{}})");
}

TEST(EnvelopeCodecAck, BadPayloadFallsBackToPlainAck) {
    for (std::string_view bad : {"", "{", "[1,2]", "\"text\"", "null", "{\"a\":1} x"}) {
        EXPECT_EQ(encode_ack(core::EnvelopeId{"e1"}, bad), R"({"envelope_id":"e1"})") << bad;
    }
}

TEST(EnvelopeCodecAck, RoundTripsAwkwardIds) {
    for (const std::string& id : {std::string{"plain"},
                                  std::string{R"(quo"te)"},
                                  std::string{R"(back\slash)"},
                                  std::string{"new\nline\ttab"},
                                  std::string{"\x01\x1f"},
                                  std::string{"\xC3\xA9\xF0\x9F\x98\x80"},
                                  std::string{"</script>"}}) {
        const std::string ack = encode_ack(core::EnvelopeId{id}, R"({"text":"ok"})");
        const json back = json::parse(ack, nullptr, false);
        ASSERT_FALSE(back.is_discarded()) << ack;
        EXPECT_EQ(back, (json{{"envelope_id", id}, {"payload", {{"text", "ok"}}}})) << ack;
        EXPECT_EQ(ack.find('\n'), std::string::npos);
        // What we send decodes to the same id on a Slack-shaped frame.
        json frame = parsed(kSlashCommand);
        frame["envelope_id"] = id;
        EXPECT_EQ(decode(frame.dump()).envelope_id, core::EnvelopeId{id});
    }
}

TEST(EnvelopeCodecAck, InvalidUtf8IdDoesNotThrow) {
    std::string ack;
    EXPECT_NO_THROW(ack = encode_ack(core::EnvelopeId{"e\xff"}));
    EXPECT_FALSE(json::parse(ack, nullptr, false).is_discarded());
}

}  // namespace
}  // namespace rollbot::slack
