#include "adapters/slack/web_api.hpp"

#include "actions/curl_http_client.hpp"
#include "adapters/slack/message_split.hpp"
#include "bot/ports/clock.hpp"
#include "test/support/async.hpp"
#include "test/support/fake_http_server.hpp"
#include "test/support/manual_clock.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <spdlog/logger.h>
#include <spdlog/sinks/ostream_sink.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using namespace boost::asio::experimental::awaitable_operators;
using rollbot::actions::CurlHttpClient;
using rollbot::core::ChannelId;
using rollbot::core::ErrorKind;
using rollbot::core::MessageRef;
using rollbot::core::MessageTs;
using rollbot::core::OutboundMessage;
using rollbot::core::Result;
using rollbot::core::Secret;
using rollbot::core::UsergroupId;
using rollbot::core::UserId;
using rollbot::core::Visibility;
using rollbot::slack::SlackWebApi;
using rollbot::slack::WebApiOptions;
using rollbot::test::FakeHttpServer;
using rollbot::test::FakeRequest;
using rollbot::test::FakeResponse;
using Json = nlohmann::json;

const std::string kBotToken = "xoxb-1111-2222-bottokensecret";
const std::string kAppToken = "xapp-1-A111-3333-apptokensecret";
const std::string kSocketUrl =
    "wss://wss-primary.slack.com/link/?ticket=secret-ticket-42&app_id=A1";
const std::string kHookPath = "/hooks/commands/T1/42/HookSecretPath";

std::string percent_decode(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '+') {
            out.push_back(' ');
        } else if (s[i] == '%' && i + 2 < s.size()) {
            out.push_back(
                static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
            i += 2;
        } else {
            out.push_back(s[i]);
        }
    }
    return out;
}

/// The fields of an `application/x-www-form-urlencoded` body.
std::map<std::string, std::string> form(std::string_view body) {
    std::map<std::string, std::string> fields;
    while (!body.empty()) {
        const auto amp = body.find('&');
        const auto pair = body.substr(0, amp);
        const auto eq = pair.find('=');
        fields[percent_decode(pair.substr(0, eq))] =
            eq == std::string_view::npos ? "" : percent_decode(pair.substr(eq + 1));
        body = amp == std::string_view::npos ? std::string_view{} : body.substr(amp + 1);
    }
    return fields;
}

std::string method_of(const FakeRequest& request) {
    return request.target.substr(request.target.rfind('/') + 1);
}

FakeResponse json_answer(const Json& body, int status = 200, rollbot::core::Headers headers = {}) {
    return FakeResponse{.status = status, .headers = std::move(headers), .body = body.dump()};
}

FakeResponse slack_error(std::string code) {
    return json_answer(Json{{"ok", false}, {"error", std::move(code)}});
}

const FakeResponse kHtml503{.status = 503,
                            .headers = {{"Content-Type", "text/html"}},
                            .body = "<html><body><h1>Server Error</h1></body></html>"};

/// A loopback port nobody listens on: bound, then closed again.
std::uint16_t closed_port() {
    asio::io_context io;
    asio::ip::tcp::acceptor acceptor(io, {asio::ip::address_v4::loopback(), 0});
    const auto port = acceptor.local_endpoint().port();
    acceptor.close();
    return port;
}

struct Timed {
    Result<void> result;
    std::chrono::milliseconds took{};
};

asio::awaitable<Timed> timed_update(SlackWebApi* api, MessageRef ref, std::string text) {
    const auto start = std::chrono::steady_clock::now();
    auto result = co_await api->update_message(std::move(ref), std::move(text));
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start);
    co_return Timed{std::move(result), took};
}

struct WhileBlocked {
    Result<void> reaction;
    std::size_t requests_after_reaction = 0;
    Timed second_update;
};

/// Once chat.update is blocked by a 429: react (another method) and edit another message.
asio::awaitable<WhileBlocked> act_while_blocked(SlackWebApi* api,
                                                const FakeHttpServer* server,
                                                MessageRef ref) {
    const auto executor = co_await asio::this_coro::executor;
    // Yields to the io_context (no sleeping) until the client has taken the 429 in.
    for (;;) {
        const auto& stats = api->stats();
        const auto it = stats.find("chat.update");
        if (it != stats.end() && it->second.rate_limited > 0) {
            break;
        }
        co_await asio::post(executor, asio::use_awaitable);
    }
    WhileBlocked out;
    std::string reaction = "eyes";
    out.reaction = co_await api->add_reaction(ref, std::move(reaction));
    out.requests_after_reaction = server->requests().size();
    std::string text = "edited while blocked";
    out.second_update = co_await timed_update(api, ref, std::move(text));
    co_return out;
}

asio::awaitable<std::tuple<Timed, WhileBlocked>> update_and_act_while_blocked(
    SlackWebApi* api, const FakeHttpServer* server, MessageRef ref) {
    std::string text = "progress 1/3";
    co_return co_await (timed_update(api, ref, std::move(text)) &&
                        act_while_blocked(api, server, ref));
}

class SlackWebApiTest : public ::testing::Test {
protected:
    SlackWebApiTest()
        : log_(std::make_shared<spdlog::logger>(
              "slack", std::make_shared<spdlog::sinks::ostream_sink_mt>(log_stream_))) {
        log_->set_level(spdlog::level::trace);
        log_->set_pattern("%l %v");
        server_.set_handler([this](const FakeRequest& request) { return answer(request); });
    }

    static WebApiOptions fast_options() {
        WebApiOptions options;
        options.timeout = 5s;
        options.max_attempts = 3;
        options.retry_base = 5ms;
        options.retry_cap = 20ms;
        options.default_retry_after = 50ms;
        return options;
    }

    SlackWebApi& api(WebApiOptions options = fast_options(), std::string url = {}) {
        if (url.empty()) {
            url = server_.url("/api/");
        }
        api_ = std::make_unique<SlackWebApi>(io_.get_executor(),
                                             http_,
                                             std::move(url),
                                             Secret{kBotToken},
                                             Secret{kAppToken},
                                             clock_,
                                             log_,
                                             options,
                                             [] { return 0.5; });
        return *api_;
    }

    template <class T>
    T run(asio::awaitable<T> task) {
        return rollbot::test::run_task(io_, std::move(task), 20s);
    }

    /// A Slack-shaped success for every method the client uses.
    FakeResponse answer(const FakeRequest& request) {
        const auto method = method_of(request);
        const auto fields = form(request.body);
        if (method == "auth.test") {
            return json_answer({{"ok", true},
                                {"url", "https://preskool.slack.com/"},
                                {"team", "PreSkool"},
                                {"user", "rollbot"},
                                {"team_id", "T0TEAM"},
                                {"user_id", "U0BOT"},
                                {"bot_id", "B0BOT"}});
        }
        if (method == "apps.connections.open") {
            return json_answer({{"ok", true}, {"url", socket_url()}});
        }
        if (method == "chat.postMessage") {
            const auto ts = fmt::format("1700000000.{:06}", ++posted_);
            return json_answer({{"ok", true}, {"channel", fields.at("channel")}, {"ts", ts}});
        }
        if (method == "chat.update") {
            return json_answer(
                {{"ok", true}, {"channel", fields.at("channel")}, {"ts", fields.at("ts")}});
        }
        if (method == "chat.postEphemeral") {
            return json_answer({{"ok", true}, {"message_ts", "1700000000.000900"}});
        }
        if (method == "reactions.add") {
            return json_answer({{"ok", true}});
        }
        if (method == "usergroups.users.list") {
            return json_answer({{"ok", true}, {"users", {"U0ANA", "W0BEN"}}});
        }
        if (method == "users.info") {
            return json_answer({{"ok", true},
                                {"user",
                                 {{"id", fields.at("user")},
                                  {"name", "ana"},
                                  {"real_name", "Ana Dba"},
                                  {"is_bot", false},
                                  {"deleted", false},
                                  {"profile", {{"display_name", "ana.d"}}}}}});
        }
        return FakeResponse{.status = 200, .body = "ok"};  // a response_url
    }

    /// Replies with `special` for `method`, and like Slack for everything else.
    void answer_with(std::string method, std::function<FakeResponse(const FakeRequest&)> special) {
        server_.set_handler([this, method = std::move(method), special = std::move(special)](
                                const FakeRequest& request) {
            return method_of(request) == method ? special(request) : answer(request);
        });
    }

    [[nodiscard]] std::vector<FakeRequest> requests_to(std::string_view method) const {
        std::vector<FakeRequest> out;
        for (auto& request : server_.requests()) {
            if (method_of(request) == method) {
                out.push_back(request);
            }
        }
        return out;
    }

    [[nodiscard]] std::string log_text() const { return log_stream_.str(); }

    /// What apps.connections.open hands out (read on the server thread).
    [[nodiscard]] std::string socket_url() const {
        const std::lock_guard lock(mutex_);
        return socket_url_;
    }
    void set_socket_url(std::string url) {
        const std::lock_guard lock(mutex_);
        socket_url_ = std::move(url);
    }

    static void expect_no_secret(std::string_view text) {
        for (const std::string_view secret : {std::string_view(kBotToken),
                                              std::string_view(kAppToken),
                                              std::string_view("xoxb-"),
                                              std::string_view("xapp-"),
                                              std::string_view("HookSecretPath"),
                                              std::string_view("secret-ticket")}) {
            EXPECT_EQ(text.find(secret), std::string_view::npos) << secret << " in: " << text;
        }
    }

    asio::io_context io_;
    CurlHttpClient http_;
    rollbot::test::ManualClock clock_;
    std::ostringstream log_stream_;
    std::shared_ptr<spdlog::logger> log_;
    std::atomic<int> posted_{0};
    mutable std::mutex mutex_;
    std::string socket_url_ = kSocketUrl;
    FakeHttpServer server_;
    std::unique_ptr<SlackWebApi> api_;
};

// --- request shapes ---------------------------------------------------------------------

TEST_F(SlackWebApiTest, AuthTestPostsFormWithBotTokenAndReadsWhoTheBotIs) {
    const auto info = run(api().auth_test());

    ASSERT_TRUE(info.has_value()) << info.error().message;
    const rollbot::slack::AuthInfo expected{UserId{"U0BOT"}, "B0BOT", "T0TEAM", "PreSkool"};
    EXPECT_EQ(*info, expected);
    const auto requests = server_.requests();
    ASSERT_EQ(requests.size(), 1U);
    EXPECT_EQ(requests[0].method, "POST");
    EXPECT_EQ(requests[0].target, "/api/auth.test");
    ASSERT_NE(requests[0].header("authorization"), nullptr);
    EXPECT_EQ(*requests[0].header("authorization"), "Bearer " + kBotToken);
    ASSERT_NE(requests[0].header("content-type"), nullptr);
    EXPECT_EQ(*requests[0].header("content-type"), "application/x-www-form-urlencoded");
    EXPECT_NE(log_text().find("debug slack.api method=auth.test status=200 ok=true ms="),
              std::string::npos)
        << log_text();
}

TEST_F(SlackWebApiTest, OpenConnectionUsesTheAppTokenAndReturnsTheSocketUrl) {
    const auto url = run(api().open_connection());

    ASSERT_TRUE(url.has_value()) << url.error().message;
    EXPECT_EQ(url->reveal(), kSocketUrl);
    const auto requests = requests_to("apps.connections.open");
    ASSERT_EQ(requests.size(), 1U);
    EXPECT_EQ(requests[0].target, "/api/apps.connections.open");
    EXPECT_EQ(*requests[0].header("authorization"), "Bearer " + kAppToken);
    EXPECT_EQ(*requests[0].header("content-type"), "application/x-www-form-urlencoded");
    EXPECT_TRUE(requests[0].body.empty());
    expect_no_secret(log_text());
}

TEST_F(SlackWebApiTest, PostMessageSendsChannelTextAndThreadAndReturnsWhereItLanded) {
    auto& slack = api();
    OutboundMessage top;
    top.channel = ChannelId{"C0INCIDENTS"};
    top.text = "*ROLLBACK EXECUTED* & <done>";
    OutboundMessage reply = top;
    reply.thread_ts = MessageTs{"1699999999.000100"};

    const auto posted = run(slack.post_message(top));
    const auto replied = run(slack.post_message(reply));

    ASSERT_TRUE(posted.has_value()) << posted.error().message;
    ASSERT_TRUE(replied.has_value()) << replied.error().message;
    EXPECT_EQ(*posted, (MessageRef{ChannelId{"C0INCIDENTS"}, MessageTs{"1700000000.000001"}}));
    const auto requests = requests_to("chat.postMessage");
    ASSERT_EQ(requests.size(), 2U);
    EXPECT_EQ(*requests[0].header("authorization"), "Bearer " + kBotToken);
    EXPECT_EQ(*requests[0].header("content-type"), "application/x-www-form-urlencoded");
    const auto first = form(requests[0].body);
    EXPECT_EQ(first,
              (std::map<std::string, std::string>{{"channel", "C0INCIDENTS"},
                                                  {"text", "*ROLLBACK EXECUTED* & <done>"}}));
    const auto second = form(requests[1].body);
    EXPECT_EQ(second.at("thread_ts"), "1699999999.000100");
    EXPECT_EQ(second.at("text"), top.text);
}

TEST_F(SlackWebApiTest, UpdateEphemeralReactionSendTheirFieldsWithTheBotToken) {
    auto& slack = api();
    const MessageRef ref{ChannelId{"C0INCIDENTS"}, MessageTs{"1700000000.000100"}};
    std::string edited = "step 2/3 done";
    const ChannelId channel{"C0INCIDENTS"};
    const UserId user{"U0ANA"};
    std::string whisper = "only you can see this";
    std::string emoji = ":white_check_mark:";

    const auto updated = run(slack.update_message(ref, edited));
    const auto ephemeral = run(slack.post_ephemeral(channel, user, whisper));
    const auto reacted = run(slack.add_reaction(ref, emoji));

    ASSERT_TRUE(updated.has_value()) << updated.error().message;
    ASSERT_TRUE(ephemeral.has_value()) << ephemeral.error().message;
    ASSERT_TRUE(reacted.has_value()) << reacted.error().message;
    const auto requests = server_.requests();
    ASSERT_EQ(requests.size(), 3U);
    EXPECT_EQ(requests[0].target, "/api/chat.update");
    EXPECT_EQ(form(requests[0].body),
              (std::map<std::string, std::string>{
                  {"channel", "C0INCIDENTS"}, {"ts", "1700000000.000100"}, {"text", edited}}));
    EXPECT_EQ(requests[1].target, "/api/chat.postEphemeral");
    EXPECT_EQ(form(requests[1].body),
              (std::map<std::string, std::string>{
                  {"channel", "C0INCIDENTS"}, {"user", "U0ANA"}, {"text", whisper}}));
    EXPECT_EQ(requests[2].target, "/api/reactions.add");
    EXPECT_EQ(form(requests[2].body),
              (std::map<std::string, std::string>{{"channel", "C0INCIDENTS"},
                                                  {"timestamp", "1700000000.000100"},
                                                  {"name", "white_check_mark"}}));
    for (const auto& request : requests) {
        EXPECT_EQ(*request.header("authorization"), "Bearer " + kBotToken);
        EXPECT_EQ(*request.header("content-type"), "application/x-www-form-urlencoded");
    }
}

TEST_F(SlackWebApiTest, DirectoryLookupsSendTheirIdsAndMapTheAnswers) {
    auto& slack = api();
    const UsergroupId group{"S0DBA"};
    const UserId user{"U0ANA"};

    const auto members = run(slack.usergroup_members(group));
    const auto info = run(slack.user_info(user));

    ASSERT_TRUE(members.has_value()) << members.error().message;
    EXPECT_EQ(*members, (std::vector<UserId>{UserId{"U0ANA"}, UserId{"W0BEN"}}));
    ASSERT_TRUE(info.has_value()) << info.error().message;
    EXPECT_EQ(*info, (rollbot::core::UserInfo{UserId{"U0ANA"}, "Ana Dba", false, false}));
    const auto lists = requests_to("usergroups.users.list");
    ASSERT_EQ(lists.size(), 1U);
    EXPECT_EQ(*lists[0].header("content-type"), "application/x-www-form-urlencoded");
    EXPECT_EQ(form(lists[0].body), (std::map<std::string, std::string>{{"usergroup", "S0DBA"}}));
    const auto infos = requests_to("users.info");
    ASSERT_EQ(infos.size(), 1U);
    EXPECT_EQ(form(infos[0].body), (std::map<std::string, std::string>{{"user", "U0ANA"}}));
    EXPECT_EQ(*infos[0].header("authorization"), "Bearer " + kBotToken);
}

TEST_F(SlackWebApiTest, UserInfoFallsBackToDisplayNameThenHandleAndReadsFlags) {
    answer_with("users.info", [](const FakeRequest& request) {
        const auto user = form(request.body).at("user");
        Json body{{"id", user}, {"name", "deploy-bot"}, {"is_bot", true}, {"deleted", true}};
        if (user == "U0DISPLAY") {
            body["profile"] = {{"display_name", "shown"}};
        }
        return json_answer({{"ok", true}, {"user", body}});
    });
    auto& slack = api();
    const UserId shown{"U0DISPLAY"};
    const UserId handle{"U0HANDLE"};

    const auto display = run(slack.user_info(shown));
    const auto name = run(slack.user_info(handle));

    ASSERT_TRUE(display.has_value()) << display.error().message;
    ASSERT_TRUE(name.has_value()) << name.error().message;
    EXPECT_EQ(display->name, "shown");
    EXPECT_EQ(*name, (rollbot::core::UserInfo{handle, "deploy-bot", true, true}));
}

// --- Slack's answers --------------------------------------------------------------------

TEST_F(SlackWebApiTest, OkFalseIsAnErrorNamingMethodAndCodeAndIsNotRetried) {
    answer_with("chat.postMessage",
                [](const FakeRequest&) { return slack_error("channel_not_found"); });
    OutboundMessage message;
    message.channel = ChannelId{"C0GONE"};
    message.text = "hello";

    const auto posted = run(api().post_message(message));

    ASSERT_FALSE(posted.has_value());
    EXPECT_EQ(posted.error().kind, ErrorKind::NotFound);
    EXPECT_EQ(posted.error().message, "slack.chat.postMessage: channel_not_found");
    EXPECT_EQ(requests_to("chat.postMessage").size(), 1U);
    EXPECT_EQ(api_->stats().at("chat.postMessage").errors, 1U);
}

TEST_F(SlackWebApiTest, MissingScopeSaysWhichScopeIsNeeded) {
    answer_with("reactions.add", [](const FakeRequest&) {
        return json_answer({{"ok", false},
                            {"error", "missing_scope"},
                            {"needed", "reactions:write"},
                            {"provided", "chat:write,commands"}});
    });
    const MessageRef ref{ChannelId{"C0INCIDENTS"}, MessageTs{"1.2"}};
    std::string emoji = "eyes";

    const auto reacted = run(api().add_reaction(ref, emoji));

    ASSERT_FALSE(reacted.has_value());
    EXPECT_EQ(reacted.error().kind, ErrorKind::Unauthorized);
    EXPECT_EQ(reacted.error().message,
              "slack.reactions.add: missing_scope (needed: reactions:write, provided: "
              "chat:write,commands)");
}

TEST_F(SlackWebApiTest, AlreadyReactedCountsAsSuccess) {
    answer_with("reactions.add", [](const FakeRequest&) { return slack_error("already_reacted"); });
    const MessageRef ref{ChannelId{"C0INCIDENTS"}, MessageTs{"1.2"}};
    std::string emoji = "white_check_mark";

    const auto reacted = run(api().add_reaction(ref, emoji));

    EXPECT_TRUE(reacted.has_value()) << reacted.error().message;
    EXPECT_EQ(api_->stats().at("reactions.add").errors, 0U);
}

TEST_F(SlackWebApiTest, AnswerThatIsNotJsonIsAProtocolError) {
    answer_with("auth.test", [](const FakeRequest&) {
        return FakeResponse{.status = 200, .body = "<html>captive portal</html>"};
    });

    const auto info = run(api().auth_test());

    ASSERT_FALSE(info.has_value());
    EXPECT_EQ(info.error().kind, ErrorKind::Protocol);
    EXPECT_EQ(info.error().message.rfind("slack.auth.test: ", 0), 0U) << info.error().message;
}

TEST_F(SlackWebApiTest, ClientErrorStatusIsAnErrorWithTheStatus) {
    answer_with("auth.test", [](const FakeRequest&) {
        return FakeResponse{.status = 404, .body = "not found"};
    });

    const auto info = run(api().auth_test());

    ASSERT_FALSE(info.has_value());
    EXPECT_EQ(info.error().kind, ErrorKind::Http4xx);
    EXPECT_EQ(info.error().http_status, 404);
    EXPECT_EQ(info.error().message, "slack.auth.test: HTTP 404");
    EXPECT_EQ(server_.requests().size(), 1U);
}

// --- rate limits ------------------------------------------------------------------------

TEST_F(SlackWebApiTest, RateLimitBlocksOnlyThatMethodUntilRetryAfterThenRetries) {
    std::atomic<int> updates{0};
    answer_with("chat.update", [this, &updates](const FakeRequest& request) {
        if (updates++ == 0) {
            return json_answer(
                {{"ok", false}, {"error", "ratelimited"}}, 429, {{"Retry-After", "1"}});
        }
        return answer(request);
    });
    auto& slack = api();
    const MessageRef ref{ChannelId{"C0INCIDENTS"}, MessageTs{"1700000000.000100"}};

    const auto [first, meanwhile] = run(update_and_act_while_blocked(&slack, &server_, ref));

    ASSERT_TRUE(first.result.has_value()) << first.result.error().message;
    EXPECT_GE(first.took, 1000ms) << "retried before Retry-After had passed";
    ASSERT_TRUE(meanwhile.reaction.has_value()) << meanwhile.reaction.error().message;
    EXPECT_EQ(meanwhile.requests_after_reaction, 2U) << "reactions.add waited for chat.update";
    ASSERT_TRUE(meanwhile.second_update.result.has_value());
    EXPECT_GE(meanwhile.second_update.took, 500ms) << "a blocked method was called anyway";
    std::vector<std::string> order;
    for (const auto& request : server_.requests()) {
        order.push_back(method_of(request));
    }
    EXPECT_EQ(
        order,
        (std::vector<std::string>{"chat.update", "reactions.add", "chat.update", "chat.update"}));
    EXPECT_EQ(slack.stats().at("chat.update").rate_limited, 1U);
    EXPECT_EQ(slack.stats().at("chat.update").calls, 2U);
    EXPECT_EQ(slack.stats().at("chat.update").errors, 0U);
    EXPECT_EQ(slack.stats().at("reactions.add").rate_limited, 0U);
    EXPECT_NE(
        log_text().find("warning slack.api.rate_limited method=chat.update retry_after_ms=1000"),
        std::string::npos)
        << log_text();
}

TEST_F(SlackWebApiTest, RateLimitStormExhaustsTheAttemptsAndFails) {
    answer_with("chat.update", [](const FakeRequest&) {
        return json_answer({{"ok", false}, {"error", "ratelimited"}}, 429, {{"Retry-After", "0"}});
    });
    const MessageRef ref{ChannelId{"C0INCIDENTS"}, MessageTs{"1.2"}};
    std::string text = "x";

    const auto updated = run(api().update_message(ref, text));

    ASSERT_FALSE(updated.has_value());
    EXPECT_EQ(updated.error().kind, ErrorKind::RateLimited);
    EXPECT_EQ(updated.error().http_status, 429);
    EXPECT_EQ(updated.error().retry_after, 0ms);
    EXPECT_NE(updated.error().message.find("gave up after 3 attempts"), std::string::npos);
    EXPECT_EQ(requests_to("chat.update").size(), 3U);
    const auto& stats = api_->stats().at("chat.update");
    EXPECT_EQ(stats.calls, 1U);
    EXPECT_EQ(stats.errors, 1U);
    EXPECT_EQ(stats.rate_limited, 3U);
}

TEST_F(SlackWebApiTest, RatelimitedInA200BodyWaitsTheDefaultAndRetries) {
    std::atomic<int> posts{0};
    answer_with("chat.postMessage", [this, &posts](const FakeRequest& request) {
        return posts++ == 0 ? slack_error("ratelimited") : answer(request);
    });
    OutboundMessage message;
    message.channel = ChannelId{"C0INCIDENTS"};
    message.text = "ROLLBACK EXECUTED";

    const auto posted = run(api().post_message(message));

    ASSERT_TRUE(posted.has_value()) << posted.error().message;
    EXPECT_EQ(requests_to("chat.postMessage").size(), 2U);
    EXPECT_EQ(api_->stats().at("chat.postMessage").rate_limited, 1U);
    EXPECT_NE(log_text().find("retry_after_ms=50 "), std::string::npos) << log_text();
}

TEST_F(SlackWebApiTest, RetryAfterDefaultsWhenMissingOrGarbledAndIsCapped) {
    const std::vector<std::pair<rollbot::core::Headers, std::chrono::milliseconds>> cases{
        {{}, 50ms},
        {{{"Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT"}}, 50ms},
        {{{"Retry-After", "86400"}}, 5min},
        {{{"Retry-After", "99999999999999999999"}}, 5min},
    };
    auto options = fast_options();
    options.max_attempts = 1;
    for (const auto& [headers, expected] : cases) {
        answer_with("auth.test", [headers = headers](const FakeRequest&) {
            return json_answer({{"ok", false}, {"error", "ratelimited"}}, 429, headers);
        });
        const auto info = run(api(options).auth_test());
        ASSERT_FALSE(info.has_value());
        EXPECT_EQ(info.error().kind, ErrorKind::RateLimited);
        EXPECT_EQ(info.error().retry_after, expected);
    }
}

// --- 5xx and the network ----------------------------------------------------------------

TEST_F(SlackWebApiTest, ServerErrorWithHtmlIsRetriedForChatUpdate) {
    std::atomic<int> updates{0};
    answer_with("chat.update", [this, &updates](const FakeRequest& request) {
        return updates++ == 0 ? kHtml503 : answer(request);
    });
    const MessageRef ref{ChannelId{"C0INCIDENTS"}, MessageTs{"1.2"}};
    std::string text = "step 3/3";

    const auto updated = run(api().update_message(ref, text));

    ASSERT_TRUE(updated.has_value()) << updated.error().message;
    EXPECT_EQ(requests_to("chat.update").size(), 2U);
    EXPECT_NE(log_text().find("warning slack.api.retry method=chat.update"), std::string::npos);
}

TEST_F(SlackWebApiTest, ServerErrorIsNotRetriedForPostMessage) {
    answer_with("chat.postMessage", [](const FakeRequest&) { return kHtml503; });
    OutboundMessage message;
    message.channel = ChannelId{"C0INCIDENTS"};
    message.text = "ROLLBACK EXECUTED";

    const auto posted = run(api().post_message(message));

    ASSERT_FALSE(posted.has_value());
    EXPECT_EQ(posted.error().kind, ErrorKind::Http5xx);
    EXPECT_EQ(posted.error().http_status, 503);
    EXPECT_EQ(posted.error().message,
              "slack.chat.postMessage: HTTP 503 (not repeated: Slack may have acted on it)");
    EXPECT_EQ(requests_to("chat.postMessage").size(), 1U) << "a lost answer may mean it posted";
}

TEST_F(SlackWebApiTest, ServerErrorsExhaustTheAttempts) {
    answer_with("usergroups.users.list", [](const FakeRequest&) { return kHtml503; });
    const UsergroupId group{"S0DBA"};

    const auto members = run(api().usergroup_members(group));

    ASSERT_FALSE(members.has_value());
    EXPECT_EQ(members.error().kind, ErrorKind::Http5xx);
    EXPECT_EQ(members.error().message,
              "slack.usergroups.users.list: HTTP 503 (gave up after 3 attempts)");
    EXPECT_EQ(requests_to("usergroups.users.list").size(), 3U);
}

TEST_F(SlackWebApiTest, ConnectionRefusedIsRetriedThenReportedAsNetworkError) {
    auto options = fast_options();
    options.max_attempts = 2;
    const auto url = fmt::format("http://127.0.0.1:{}/api/", closed_port());
    auto& slack = api(options, url);
    OutboundMessage message;
    message.channel = ChannelId{"C0INCIDENTS"};
    message.text = "ROLLBACK EXECUTED";

    const auto info = run(slack.auth_test());
    const auto posted = run(slack.post_message(message));

    ASSERT_FALSE(info.has_value());
    EXPECT_EQ(info.error().kind, ErrorKind::Network);
    EXPECT_EQ(info.error().message.rfind("slack.auth.test: ", 0), 0U) << info.error().message;
    EXPECT_NE(info.error().message.find("gave up after 2 attempts"), std::string::npos);
    // Refused means never sent: even chat.postMessage may try again.
    ASSERT_FALSE(posted.has_value());
    EXPECT_EQ(posted.error().kind, ErrorKind::Network);
    EXPECT_NE(posted.error().message.find("gave up after 2 attempts"), std::string::npos);
    EXPECT_NE(log_text().find("warning slack.api.retry method=chat.postMessage"),
              std::string::npos);
    expect_no_secret(info.error().message);
    expect_no_secret(log_text());
}

// --- apps.connections.open --------------------------------------------------------------

TEST_F(SlackWebApiTest, UnrecoverableAuthOnConnectionsOpenIsUnauthorizedAndNotRetried) {
    for (const std::string code : {"invalid_auth", "token_revoked", "not_allowed_token_type"}) {
        answer_with("apps.connections.open",
                    [code](const FakeRequest&) { return slack_error(code); });
        const auto before = requests_to("apps.connections.open").size();

        const auto url = run(api().open_connection());

        ASSERT_FALSE(url.has_value()) << code;
        EXPECT_EQ(url.error().kind, ErrorKind::Unauthorized) << code;
        EXPECT_EQ(url.error().message, "slack.apps.connections.open: " + code);
        EXPECT_EQ(requests_to("apps.connections.open").size(), before + 1) << code;
    }
}

TEST_F(SlackWebApiTest, SocketUrlMustBeWssOrPlainWsOnLoopback) {
    const std::string loop = "ws://127.0.0.1:4321/link/?ticket=secret-ticket-loop";
    set_socket_url(loop);
    const auto loopback = run(api().open_connection());
    ASSERT_TRUE(loopback.has_value()) << loopback.error().message;
    EXPECT_EQ(loopback->reveal(), loop);

    for (const std::string bad : {"ws://wss-primary.slack.com/link/?ticket=secret-ticket-1",
                                  "https://wss-primary.slack.com/link/?ticket=secret-ticket-2",
                                  "ws://127.0.0.1.attacker.example/?ticket=secret-ticket-3",
                                  "wss://user@/?ticket=secret-ticket-4"}) {
        set_socket_url(bad);
        const auto url = run(api().open_connection());
        ASSERT_FALSE(url.has_value()) << bad;
        EXPECT_EQ(url.error().kind, ErrorKind::Protocol) << bad;
        EXPECT_EQ(url.error().message.rfind("slack.apps.connections.open: ", 0), 0U);
        expect_no_secret(url.error().message);
    }
    expect_no_secret(log_text());
}

// --- caches -----------------------------------------------------------------------------

TEST_F(SlackWebApiTest, UsergroupMembersAreCachedForTheirTtl) {
    auto options = fast_options();
    options.usergroup_ttl = 60s;
    auto& slack = api(options);
    const UsergroupId group{"S0DBA"};

    ASSERT_TRUE(run(slack.usergroup_members(group)).has_value());
    clock_.advance(59s);
    const auto cached = run(slack.usergroup_members(group));
    EXPECT_EQ(requests_to("usergroups.users.list").size(), 1U);
    clock_.advance(1s);
    const auto fresh = run(slack.usergroup_members(group));

    ASSERT_TRUE(cached.has_value());
    EXPECT_EQ(*cached, (std::vector<UserId>{UserId{"U0ANA"}, UserId{"W0BEN"}}));
    ASSERT_TRUE(fresh.has_value());
    EXPECT_EQ(requests_to("usergroups.users.list").size(), 2U);
}

TEST_F(SlackWebApiTest, UserInfoIsCachedForItsTtlAndErrorsAreNot) {
    std::atomic<int> lookups{0};
    answer_with("users.info", [this, &lookups](const FakeRequest& request) {
        return lookups++ == 0 ? slack_error("user_not_found") : answer(request);
    });
    auto options = fast_options();
    options.user_ttl = 5min;
    auto& slack = api(options);
    const UserId user{"U0ANA"};

    const auto missing = run(slack.user_info(user));
    const auto found = run(slack.user_info(user));
    const auto cached = run(slack.user_info(user));
    clock_.advance(5min);
    const auto refreshed = run(slack.user_info(user));

    ASSERT_FALSE(missing.has_value());
    EXPECT_EQ(missing.error().kind, ErrorKind::NotFound);
    ASSERT_TRUE(found.has_value());
    ASSERT_TRUE(cached.has_value());
    EXPECT_EQ(*cached, *found);
    ASSERT_TRUE(refreshed.has_value());
    EXPECT_EQ(requests_to("users.info").size(), 3U);
}

// --- long messages ----------------------------------------------------------------------

std::string long_text() {
    std::string text = "*Command output*\n";
    for (int i = 0; i < 400; ++i) {
        text += fmt::format("pod/backend-7d9f{:04} Running 1/1 restarts=0 age=3m\n", i);
    }
    return text;
}

TEST_F(SlackWebApiTest, LongMessageContinuesInTheThreadOfItsFirstPart) {
    OutboundMessage message;
    message.channel = ChannelId{"C0INCIDENTS"};
    message.text = long_text();
    const auto parts = rollbot::slack::split_message(message.text);
    ASSERT_GE(parts.size(), 3U);

    const auto posted = run(api().post_message(message));

    ASSERT_TRUE(posted.has_value()) << posted.error().message;
    const auto requests = requests_to("chat.postMessage");
    ASSERT_EQ(requests.size(), parts.size());
    EXPECT_EQ(*posted, (MessageRef{ChannelId{"C0INCIDENTS"}, MessageTs{"1700000000.000001"}}));
    EXPECT_EQ(form(requests[0].body).count("thread_ts"), 0U);
    for (std::size_t i = 0; i < parts.size(); ++i) {
        const auto fields = form(requests[i].body);
        EXPECT_EQ(fields.at("text"), parts[i]);
        EXPECT_LE(fields.at("text").size(), rollbot::slack::kMaxMessageBytes);
        EXPECT_EQ(fields.at("channel"), "C0INCIDENTS");
        if (i > 0) {
            EXPECT_EQ(fields.at("thread_ts"), "1700000000.000001");
        }
    }
}

TEST_F(SlackWebApiTest, LongReplyStaysInTheRequestedThread) {
    OutboundMessage message;
    message.channel = ChannelId{"C0INCIDENTS"};
    message.thread_ts = MessageTs{"1699999999.000100"};
    message.text = long_text();
    const auto parts = rollbot::slack::split_message(message.text);

    const auto posted = run(api().post_message(message));

    ASSERT_TRUE(posted.has_value()) << posted.error().message;
    const auto requests = requests_to("chat.postMessage");
    ASSERT_EQ(requests.size(), parts.size());
    for (const auto& request : requests) {
        EXPECT_EQ(form(request.body).at("thread_ts"), "1699999999.000100");
    }
}

TEST_F(SlackWebApiTest, LongUpdateKeepsTheFirstPartAndPostsTheRestInTheThread) {
    const MessageRef ref{ChannelId{"C0INCIDENTS"}, MessageTs{"1700000000.000100"}};
    std::string text = long_text();
    const auto parts = rollbot::slack::split_message(text);

    const auto updated = run(api().update_message(ref, text));

    ASSERT_TRUE(updated.has_value()) << updated.error().message;
    const auto updates = requests_to("chat.update");
    ASSERT_EQ(updates.size(), 1U);
    EXPECT_EQ(form(updates[0].body).at("text"), parts[0]);
    const auto posts = requests_to("chat.postMessage");
    ASSERT_EQ(posts.size(), parts.size() - 1);
    for (std::size_t i = 0; i < posts.size(); ++i) {
        EXPECT_EQ(form(posts[i].body).at("text"), parts[i + 1]);
        EXPECT_EQ(form(posts[i].body).at("thread_ts"), "1700000000.000100");
    }
}

// --- response_url -----------------------------------------------------------------------

TEST_F(SlackWebApiTest, RespondPostsJsonToTheResponseUrlWithoutAToken) {
    auto& slack = api();
    const Secret hook{server_.url(kHookPath)};
    std::string hidden = "Only you see this";
    std::string shown = "Rolling back *backend*";

    const auto ephemeral = run(slack.respond(hook, Visibility::Ephemeral, hidden));
    const auto in_channel = run(slack.respond(hook, Visibility::InChannel, shown));

    ASSERT_TRUE(ephemeral.has_value()) << ephemeral.error().message;
    ASSERT_TRUE(in_channel.has_value()) << in_channel.error().message;
    const auto requests = server_.requests();
    ASSERT_EQ(requests.size(), 2U);
    for (const auto& request : requests) {
        EXPECT_EQ(request.method, "POST");
        EXPECT_EQ(request.target, kHookPath);
        EXPECT_EQ(request.header("authorization"), nullptr);
        ASSERT_NE(request.header("content-type"), nullptr);
        EXPECT_EQ(request.header("content-type")->rfind("application/json", 0), 0U);
    }
    EXPECT_EQ(Json::parse(requests[0].body),
              (Json{{"response_type", "ephemeral"}, {"text", hidden}}));
    EXPECT_EQ(Json::parse(requests[1].body),
              (Json{{"response_type", "in_channel"}, {"text", shown}}));
}

TEST_F(SlackWebApiTest, RespondTreatsNon2xxAsAnErrorWithoutQuotingTheUrl) {
    server_.set_handler(
        [](const FakeRequest&) { return FakeResponse{.status = 404, .body = "expired_url"}; });
    const Secret hook{server_.url(kHookPath)};
    std::string text = "too late";

    const auto answered = run(api().respond(hook, Visibility::Ephemeral, text));

    ASSERT_FALSE(answered.has_value());
    EXPECT_EQ(answered.error().kind, ErrorKind::Http4xx);
    EXPECT_EQ(answered.error().message, "slack.response_url: HTTP 404 (expired_url)");
    EXPECT_EQ(server_.requests().size(), 1U);
}

TEST_F(SlackWebApiTest, RespondRefusesPlainHttpToANonLoopbackHost) {
    const Secret hook{"http://hooks.slack.com" + kHookPath};
    std::string text = "hello";

    const auto answered = run(api().respond(hook, Visibility::Ephemeral, text));

    ASSERT_FALSE(answered.has_value());
    EXPECT_EQ(answered.error().kind, ErrorKind::Invalid);
    expect_no_secret(answered.error().message);
    EXPECT_TRUE(server_.requests().empty());
}

// --- secrets ----------------------------------------------------------------------------

TEST_F(SlackWebApiTest, NoLogLineOrErrorCarriesATokenTheResponseUrlOrTheSocketUrl) {
    std::atomic<int> updates{0};
    server_.set_handler([this, &updates](const FakeRequest& request) {
        const auto method = method_of(request);
        if (method == "chat.update" && updates++ == 0) {
            return kHtml503;
        }
        if (method == "chat.postMessage") {
            return slack_error("not_in_channel");
        }
        if (request.target == kHookPath) {
            return FakeResponse{.status = 500, .body = kHookPath};
        }
        return answer(request);
    });
    auto& slack = api();
    const MessageRef ref{ChannelId{"C0INCIDENTS"}, MessageTs{"1.2"}};
    std::string text = "update";
    OutboundMessage message;
    message.channel = ChannelId{"C0INCIDENTS"};
    message.text = "post";
    const Secret hook{server_.url(kHookPath)};
    std::string reply = "reply";

    ASSERT_TRUE(run(slack.auth_test()).has_value());
    ASSERT_TRUE(run(slack.open_connection()).has_value());
    ASSERT_TRUE(run(slack.update_message(ref, text)).has_value());
    const auto posted = run(slack.post_message(message));
    const auto answered = run(slack.respond(hook, Visibility::Ephemeral, reply));
    set_socket_url("ws://slack.example/?ticket=secret-ticket-9");
    const auto refused = run(slack.open_connection());
    const auto offline =
        run(api(fast_options(), fmt::format("http://127.0.0.1:{}/api/", closed_port()))
                .open_connection());

    ASSERT_FALSE(posted.has_value());
    ASSERT_FALSE(answered.has_value());
    ASSERT_FALSE(refused.has_value());
    ASSERT_FALSE(offline.has_value());
    for (const auto& said : {posted.error().message,
                             answered.error().message,
                             refused.error().message,
                             offline.error().message}) {
        expect_no_secret(said);
    }
    EXPECT_NE(log_text().find("slack.api method=chat.update status=503 ok=false"),
              std::string::npos);
    expect_no_secret(log_text());
}

}  // namespace
