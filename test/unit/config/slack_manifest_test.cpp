// deploy/slack-app-manifest.yaml: valid YAML, a Socket Mode app with /rollback, the events
// approvals need, and a bot scope for every Web API method the Slack adapter calls.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

namespace rollbot {
namespace {

using ::testing::Contains;

std::string read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

std::set<std::string> strings(const YAML::Node& list) {
    std::set<std::string> out;
    for (const auto& item : list) {
        out.insert(item.as<std::string>());
    }
    return out;
}

class SlackManifest : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_NO_THROW(manifest_ =
                            YAML::LoadFile(ROLLBOT_SOURCE_DIR "/deploy/slack-app-manifest.yaml"));
        ASSERT_TRUE(manifest_.IsMap());
    }
    YAML::Node manifest_;
};

TEST_F(SlackManifest, IsASocketModeAppWithTheRollbackCommand) {
    EXPECT_EQ(manifest_["_metadata"]["major_version"].as<int>(), 1);
    EXPECT_TRUE(manifest_["settings"]["socket_mode_enabled"].as<bool>());
    const auto commands = manifest_["features"]["slash_commands"];
    ASSERT_TRUE(commands.IsSequence());
    ASSERT_EQ(commands.size(), 1U);
    EXPECT_EQ(commands[0]["command"].as<std::string>(), "/rollback");
    EXPECT_LE(commands[0]["description"].as<std::string>().size(), 100U);
    // Socket Mode: no public URL anywhere.
    EXPECT_EQ(read(ROLLBOT_SOURCE_DIR "/deploy/slack-app-manifest.yaml").find("request_url"),
              std::string::npos);
    const auto name = manifest_["features"]["bot_user"]["display_name"].as<std::string>();
    EXPECT_TRUE(std::regex_match(name, std::regex("[a-z0-9._-]{1,80}"))) << name;
}

TEST_F(SlackManifest, SubscribesToTheReactionsApprovalsUse) {
    const auto events = strings(manifest_["settings"]["event_subscriptions"]["bot_events"]);
    EXPECT_THAT(events, Contains("reaction_added"));
    EXPECT_THAT(events, Contains("reaction_removed"));
}

TEST_F(SlackManifest, HasTheScopeOfEveryMethodTheAdapterCalls) {
    // Slack's method → bot scope (reference/slack-socket-mode.md §5.4). auth.test and
    // apps.connections.open need none (the latter is the app-level token's connections:write).
    const std::map<std::string, std::string> scope_of{
        {"chat.postMessage", "chat:write"},
        {"chat.update", "chat:write"},
        {"chat.postEphemeral", "chat:write"},
        {"reactions.add", "reactions:write"},
        {"usergroups.users.list", "usergroups:read"},
        {"users.info", "users:read"},
        {"auth.test", ""},
        {"apps.connections.open", ""},
    };
    const std::string source = read(ROLLBOT_SOURCE_DIR "/adapters/slack/web_api_methods.cpp");
    const std::regex call(R"re(spec\.method = "([a-zA-Z.]+)")re");
    std::set<std::string> methods;
    for (auto it = std::sregex_iterator(source.begin(), source.end(), call);
         it != std::sregex_iterator();
         ++it) {
        methods.insert((*it)[1]);
    }
    ASSERT_GE(methods.size(), 8U) << "the adapter's methods were not found in its source";
    const auto scopes = strings(manifest_["oauth_config"]["scopes"]["bot"]);
    for (const auto& method : methods) {
        auto it = scope_of.find(method);
        ASSERT_NE(it, scope_of.end()) << method
                                      << " is new: add its scope to this map and to "
                                         "the manifest";
        if (!it->second.empty()) {
            EXPECT_THAT(scopes, Contains(it->second)) << "for " << method;
        }
    }
    EXPECT_THAT(scopes, Contains("commands")) << "slash commands";
    EXPECT_THAT(scopes, Contains("reactions:read")) << "reaction_added / reaction_removed";
}

}  // namespace
}  // namespace rollbot
