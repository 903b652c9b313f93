#include "config/loader.hpp"

#include "test/support/temp_dir.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace rollbot::config {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using test::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

const fs::path kBase = "/nonexistent/rollbot";
constexpr LoadOptions kConsole{.require_slack_tokens = false};
constexpr LoadOptions kDaemon{.require_slack_tokens = true};
constexpr const char* kAppToken = "xapp-1-A0AAA-1234-abcdefSECRET";
constexpr const char* kBotToken = "xoxb-1234-5678-abcdefSECRET";

Environment env_of(std::map<std::string, std::string> vars) {
    return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
        auto it = vars.find(std::string(name));
        return it == vars.end() ? std::nullopt : std::optional(it->second);
    };
}

const std::string kSlack = "slack:\n  incidents_channel: C0INCIDENTS\n";  // lines 1-2
const std::string kApprovals =                                            // lines 3-5
    "approvals:\n"
    "  db:\n"
    "    approvers: {usergroups: [S0DBA]}\n";

// The smallest valid configuration plus `extra` from line 6 on; indented by four spaces, the
// extra lines continue the approvals.db policy.
std::string with(const std::string& extra) {
    return kSlack + kApprovals + extra;
}
// The slack section plus `extra` from line 3 on, then the approvals.
std::string slack_with(const std::string& extra) {
    return kSlack + extra + kApprovals;
}

LoadResult parse(const std::string& yaml,
                 const Environment& env = env_of({}),
                 const LoadOptions& options = kConsole) {
    return parse_settings(yaml, "t.yaml", kBase, env, options);
}

std::vector<std::string> problems_of(const LoadResult& result) {
    std::vector<std::string> out;
    if (result.has_error()) {
        for (const auto& p : result.error()) {
            out.push_back(p.to_string());
        }
    }
    return out;
}

std::vector<std::string> problems_of(const std::string& yaml,
                                     const Environment& env = env_of({}),
                                     const LoadOptions& options = kConsole) {
    return problems_of(parse(yaml, env, options));
}

// ---- one rule broken: exactly one problem, on the right line and key path ----

struct Rejection {
    std::string name;
    std::string yaml;
    int line;
    std::string key;
    std::string message;  // part of the message
};

std::ostream& operator<<(std::ostream& os, const Rejection& r) {
    return os << r.name;
}

std::vector<Rejection> rejections() {
    // One case: a name and a document, then the line, key path and message of its problem.
    // clang-format off
    return {
        {"ChannelMissing", "slack:\n  ca_file: \"\"\n" + kApprovals,
         1, "slack.incidents_channel", "missing: commands are accepted only in this channel"},
        {"ChannelName", "slack:\n  incidents_channel: \"#incidents\"\n" + kApprovals,
         2, "slack.incidents_channel", "\"#incidents\" is not a channel id"},
        {"ChannelDirectMessage", "slack:\n  incidents_channel: D0DIRECT\n" + kApprovals,
         2, "slack.incidents_channel", "is not a channel id"},
        {"ApiUrlPlainHttp", slack_with("  api_url: http://slack.com/api/\n"),
         3, "slack.api_url", "must use https:// (http:// only for 127.0.0.1, ::1 or localhost)"},
        {"ApiUrlNoScheme", slack_with("  api_url: slack.com/api\n"),
         3, "slack.api_url", "is not an https:// URL with a host"},
        {"CaFileMissing", slack_with("  ca_file: certs/ca.pem\n"),
         3, "slack.ca_file",
         "is not a readable file (looked for /nonexistent/rollbot/certs/ca.pem)"},
        {"OperatorName", with("access:\n  operators:\n    users: [U0ALICE, alice]\n"),
         8, "access.operators.users[1]", "\"alice\" is not a user id"},
        {"OperatorOnItsOwnLine",
         with("access:\n  operators:\n    users:\n      - U0ALICE\n"
         "      - W0BOB\n      - u0carol\n"),
         11, "access.operators.users[2]", "\"u0carol\" is not a user id"},
        {"OperatorGroupHandle", with("access:\n  operators: {usergroups: [dba-team]}\n"),
         7, "access.operators.usergroups[0]", "\"dba-team\" is not a usergroup id"},
        {"OperatorsAsList", with("access:\n  operators: [U0ALICE]\n"),
         7, "access.operators", "expected a map, found a list"},
        {"UsersAsScalar", with("access:\n  operators: {users: U0ALICE}\n"),
         7, "access.operators.users",
         "expected a list, found a single value (write [\"U0ALICE\"] for a list of one)"},
        {"TimeoutInWords", with("    timeout: 15 minutes\n"),
         6, "approvals.db.timeout", "\"15 minutes\" is not a duration (use 15m)"},
        {"TimeoutWithBlanks", with("    timeout: \" 15m \"\n"),
         6, "approvals.db.timeout", "\" 15m \" is not a duration (use 15m, without spaces)"},
        {"TimeoutOutOfOrder", with("    timeout: 30m1h\n"),
         6, "approvals.db.timeout", "(use e.g. 90s, 15m, 1h30m; units h, m, s, ms, largest first)"},
        {"TimeoutAMonthAndMore", with("    timeout: 721h\n"),
         6, "approvals.db.timeout", "\"721h\" is longer than 720h (30 days)"},
        {"TimeoutThatWouldOverflowTheClock",
         with("kubernetes:\n  deployments:\n    backend: {rollout_timeout: 9223372036854775807ms}\n"
         "    frontend: {}\n"),
         8, "kubernetes.deployments.backend.rollout_timeout", "is longer than 720h"},
        {"TimeoutZero", with("    timeout: 0\n"),
         6, "approvals.db.timeout", "must be greater than 0"},
        {"RequiredZero", with("    required: 0\n"),
         6, "approvals.db.required", "must be at least 1, not 0"},
        {"RequiredWord", with("    required: two\n"),
         6, "approvals.db.required", "\"two\" is not a whole number"},
        {"RequiredGroupNotAnApprover", with("    required_groups: [S0LEADS]\n"),
         6, "approvals.db.required_groups[0]",
         "\"S0LEADS\" is not in approvals.db.approvers.usergroups"},
        {"RequiredBelowGroups",
         kSlack + "approvals:\n  db:\n    approvers: {usergroups: [S0DBA, S0LEADS]}\n"
         "    required_groups: [S0DBA, S0LEADS]\n",
         4, "approvals.db.required", "is 1 but 2 required_groups each need their own approver"},
        {"RequiredAboveUsers",
         kSlack + "approvals:\n  db:\n    approvers: {users: [U0BOB]}\n    required: 2\n",
         6, "approvals.db.required", "needs 2 distinct approvers but approvers lists only 1 user"},
        {"SelfApprovalYes", with("    allow_self_approval: yes\n"),
         6, "approvals.db.allow_self_approval", "\"yes\" is not a boolean (use true or false)"},
        {"ReactionWithColons", with("    approve_reaction: \":white_check_mark:\"\n"),
         6, "approvals.db.approve_reaction", "write it without colons (white_check_mark)"},
        {"ReactionWithSpace", with("    reject_reaction: Thumbs Down\n"),
         6, "approvals.db.reject_reaction", "\"Thumbs Down\" is not a reaction name"},
        {"ReactionsEqual", with("    reject_reaction: white_check_mark\n"),
         6, "approvals.db.reject_reaction", "approve_reaction and reject_reaction must differ"},
        {"NoApprovers", kSlack + "approvals:\n  db:\n    required: 1\n",
         4, "approvals.db.approvers", "no approvers: nobody could ever approve"},
        {"EmptyApprovers",
         kSlack + "approvals:\n  db:\n    approvers: {users: [], usergroups: []}\n",
         5, "approvals.db.approvers", "no approvers"},
        {"DbPolicyMissing",
         kSlack + "approvals:\n  full:\n    approvers: {usergroups: [S0LEADS]}\n",
         3, "approvals.db",
         "missing: DB downgrades need DBA or Engineering Lead approval (runbook)"},
        {"PolicyNotAMap", kSlack + "approvals:\n  db: [S0DBA]\n",
         4, "approvals.db", "expected a map, found a list"},
        {"NamespaceUpperCase", with("kubernetes:\n  namespace: PreSkool\n"),
         7, "kubernetes.namespace", "\"PreSkool\" is not a DNS label"},
        {"FrontendMissing",
         with("kubernetes:\n  deployments:\n    backend: {image: ghcr.io/acme/backend}\n"),
         7, "kubernetes.deployments.frontend", "missing: the runbook rolls back both"},
        {"ImageWithTag",
         with("kubernetes:\n  deployments:\n    backend: {image: ghcr.io/acme/backend:v1.2}\n"
         "    frontend: {}\n"),
         8, "kubernetes.deployments.backend.image",
         "has a tag or digest: give the repository only (ghcr.io/acme/backend)"},
        {"ImageWithDigest",
         with("kubernetes:\n  deployments:\n    backend: {}\n"
         "    frontend: {image: \"ghcr.io/acme/web@sha256:0a1b\"}\n"),
         9, "kubernetes.deployments.frontend.image", "give the repository only (ghcr.io/acme/web)"},
        {"ContainerNotALabel",
         with("kubernetes:\n  deployments:\n    backend: {container: Backend_1}\n    frontend: "
         "{}\n"),
         8, "kubernetes.deployments.backend.container", "\"Backend_1\" is not a DNS label"},
        {"RolloutTimeoutZero",
         with("kubernetes:\n  deployments:\n    backend: {}\n    frontend: {rollout_timeout: 0}\n"),
         9, "kubernetes.deployments.frontend.rollout_timeout", "must be greater than 0"},
        {"UnknownDeployment",
         with("kubernetes:\n  deployments:\n    backend: {}\n    frontend: {}\n    fronted: {}\n"),
         10, "kubernetes.deployments.fronted", "did you mean \"frontend\"?"},
        {"KubectlCommandLine", with("kubernetes:\n  kubectl: kubectl --context prod\n"),
         7, "kubernetes.kubectl", "is one program, not a command line"},
        {"KubectlEmpty", with("kubernetes:\n  kubectl: \"\"\n"),
         7, "kubernetes.kubectl", "must not be empty"},
        {"KubeconfigTilde", with("kubernetes:\n  kubeconfig: ~/.kube/config\n"),
         7, "kubernetes.kubeconfig", "~ is not expanded"},
        {"AlembicEmpty", with("migrations:\n  alembic: []\n"),
         7, "migrations.alembic", "must list at least one item"},
        {"AlembicEmptyWord", with("migrations:\n  alembic: [alembic, \"\"]\n"),
         7, "migrations.alembic[1]", "must not be empty"},
        {"ExecTargetKind", with("migrations:\n  exec_target: statefulset/db\n"),
         7, "migrations.exec_target", "is not an exec target"},
        {"MigrationContainer", with("migrations:\n  container: \"\"\n"),
         7, "migrations.container", "is not a DNS label"},
        {"ScriptPathEmpty", with("script:\n  path: \"\"\n"), 7, "script.path", "must not be empty"},
        {"ScriptTimeoutBareNumber", with("script:\n  timeout: 600\n"),
         7, "script.timeout", "\"600\" is not a duration: add a unit (600s, 600m or 600h)"},
        {"HealthUrlNoScheme", with("verify:\n  health_url: erp.preskool.com/api/v1/health\n"),
         7, "verify.health_url", "is not an http:// or https:// URL with a host"},
        {"PrometheusFtp", with("verify:\n  prometheus_url: ftp://prometheus:9090\n"),
         7, "verify.prometheus_url", "is not an http:// or https:// URL"},
        {"PrometheusBadPort", with("verify:\n  prometheus_url: http://prometheus:99999\n"),
         7, "verify.prometheus_url", "is not an http:// or https:// URL"},
        {"ErrorRatePercent", with("verify:\n  max_error_rate: 10%\n"),
         7, "verify.max_error_rate", "\"10%\" is not a number (write 0.10 for 10%)"},
        {"ErrorRateZero", with("verify:\n  max_error_rate: 0\n"),
         7, "verify.max_error_rate", "\"0\" is not a fraction in (0, 1]"},
        {"ErrorRateAboveOne", with("verify:\n  max_error_rate: 1.5\n"),
         7, "verify.max_error_rate", "\"1.5\" is not a fraction in (0, 1]"},
        {"ErrorRateNotANumber", with("verify:\n  max_error_rate: .nan\n"),
         7, "verify.max_error_rate", "is not a number"},
        {"P95Zero", with("verify:\n  max_p95_latency: 0\n"),
         7, "verify.max_p95_latency", "must be greater than 0"},
        {"WatchNegative", with("verify:\n  watch: -5m\n"),
         7, "verify.watch", "\"-5m\" is not a duration: durations cannot be negative"},
        {"QueryEmpty", with("verify:\n  error_rate_query: \"\"\n"),
         7, "verify.error_rate_query", "must not be empty"},
        {"TargetZero", with("targets: {decision: 10m, total: 0}\n"),
         6, "targets.total", "must be greater than 0"},
        {"TargetInWords", with("targets:\n  health_200: 8 minutes\n"),
         7, "targets.health_200", "\"8 minutes\" is not a duration (use 8m)"},
        {"StatePathEmpty", with("state:\n  path:\n"), 7, "state.path", "must not be empty"},
        {"StateUrlNotPostgres", with("state:\n  url: mysql://db/rollbot\n"),
         7, "state.url", "the URL is not a PostgreSQL connection URI"},
        {"StateLeaseTooShort", with("state:\n  lease: 1s\n"),
         7, "state.lease", "must be between 3s and 5m"},
        {"StateLeaseTooLong", with("state:\n  lease: 1h\n"),
         7, "state.lease", "must be between 3s and 5m"},
        {"ListenPortOnly", with("http:\n  listen: 8080\n"),
         7, "http.listen", "\"8080\" is not host:port"},
        {"ListenPortSigned", with("http:\n  listen: 127.0.0.1:-1\n"),
         7, "http.listen", "is not host:port"},
        {"ListenPortTooHigh", with("http:\n  listen: 127.0.0.1:65536\n"),
         7, "http.listen", "is not host:port"},
        {"ListenBadAddress", with("http:\n  listen: 10.0.0.256:80\n"),
         7, "http.listen", "is not host:port"},
        {"ListenHostName", with("http:\n  listen: erp.local:80\n"),
         7, "http.listen", "is not host:port"},
        {"ListenIpv6WithoutBrackets", with("http:\n  listen: \"::1:8080\"\n"),
         7, "http.listen", "is not host:port"},
        {"TemplatesDirMissing", with("templates:\n  dir: no-such-dir\n"),
         7, "templates.dir", "is not a directory (looked for /nonexistent/rollbot/no-such-dir)"},
        {"ConsoleUser", with("console:\n  user: alice\n"),
         7, "console.user", "\"alice\" is not a user id"},
        {"ConsoleUsersKey", with("console:\n  users:\n    U0ALICE: alice\n    bob: Bob\n"),
         9, "console.users.bob", "\"bob\" is not a user id"},
        {"ConsoleDisplayNameEmpty", with("console:\n  users: {U0ALICE: \"\"}\n"),
         7, "console.users.U0ALICE", "must not be empty"},
        {"ConsoleMembersScalar", with("console:\n  usergroups: {S0DBA: U0BOB}\n"),
         7, "console.usergroups.S0DBA", "expected a list, found a single value"},
        {"ConsoleUsergroupKey", with("console:\n  usergroups: {dba: [U0BOB]}\n"),
         7, "console.usergroups.dba", "\"dba\" is not a usergroup id"},
        {"ConsoleBot", with("console:\n  bots: [rollbot]\n"),
         7, "console.bots[0]", "\"rollbot\" is not a user id"},
        {"UnknownSection", with("kubernets:\n  namespace: preskool\n"),
         6, "kubernets", "unknown key \"kubernets\" (did you mean \"kubernetes\"?)"},
        {"UnknownKeyTypo", with("    tiemout: 15m\n"),
         6, "approvals.db.tiemout", "unknown key \"tiemout\" (did you mean \"timeout\"?)"},
        {"UnknownKeyNothingClose", with("verify:\n  frobnicate: 1\n"),
         7, "verify.frobnicate",
         "unknown key \"frobnicate\" (known keys: health_url, prometheus_url, error_rate_query"},
        {"DuplicateKey", with("    timeout: 15m\n    timeout: 20m\n"),
         7, "approvals.db.timeout", "duplicate key (first set on line 6)"},
        {"TokenInFile", slack_with("  bot_token: xoxb-1-2-3\n"),
         3, "slack.bot_token", "tokens come only from the environment"},
        {"MergeKey", with("console: &c {}\ntemplates:\n  <<: *c\n"),
         8, "templates.<<", "YAML merge keys are not supported"},
        {"SectionIsScalar", with("script: scripts/rollback.sh\n"),
         6, "script", "expected a map, found a single value"},
        {"KeyIsNotAName", with("verify:\n  ? [a, b]\n  : 1\n"),
         7, "verify", "keys must be plain names, found a list"},
        {"RootIsAList", "- slack\n- approvals\n", 1, "", "expected a map of sections"},
        {"TwoDocuments", with("---\nslack: {}\n"), 7, "", "holds more than one YAML document"},
        {"NotYaml", with("verify: [unclosed\n"),
         7, "", "not valid YAML: end of sequence flow not found"},
    };
    // clang-format on
}

class ConfigLoaderRejects : public ::testing::TestWithParam<Rejection> {};

TEST_P(ConfigLoaderRejects, OneProblemWithLineAndKeyPath) {
    const Rejection& r = GetParam();
    const auto result = parse(r.yaml);
    ASSERT_TRUE(result.has_error()) << r.yaml;
    const std::vector<Problem> problems = result.error();  // a copy: error() returns by value
    ASSERT_EQ(problems.size(), 1u) << ::testing::PrintToString(problems_of(result));
    const Problem& p = problems.front();
    EXPECT_EQ(p.file, "t.yaml");
    EXPECT_EQ(p.line, r.line) << p.to_string();
    EXPECT_EQ(p.key, r.key) << p.to_string();
    EXPECT_THAT(p.message, HasSubstr(r.message));
}

// Prefixed so that --gtest_filter=ConfigLoader* selects these too.
INSTANTIATE_TEST_SUITE_P(ConfigLoader,
                         ConfigLoaderRejects,
                         ::testing::ValuesIn(rejections()),
                         [](const ::testing::TestParamInfo<Rejection>& p) { return p.param.name; });

// ---- whole loads ----

TEST(ConfigLoader, ReportsEveryProblemAtOnceOrderedByLine) {
    const std::string yaml =
        "slack:\n"                                // 1
        "  incidents_channel: incidents\n"        // 2
        "approvals:\n"                            // 3
        "  db:\n"                                 // 4
        "    approvers: {usergroups: [S0DBA]}\n"  // 5
        "    timeout: 15 minutes\n"               // 6
        "    tiemout: 15m\n"                      // 7
        "verify:\n"                               // 8
        "  max_error_rate: 10%\n"                 // 9
        "http: {listen: 8080}\n";                 // 10
    EXPECT_THAT(
        problems_of(yaml, env_of({{"SLACK_BOT_TOKEN", "nope"}}), kDaemon),
        ElementsAre(
            "t.yaml:2: slack.incidents_channel: \"incidents\" is not a channel id (C… or G…, e.g. "
            "C0123ABCD: the id, not the #name)",
            "t.yaml:6: approvals.db.timeout: \"15 minutes\" is not a duration (use 15m)",
            "t.yaml:7: approvals.db.tiemout: unknown key \"tiemout\" (did you mean \"timeout\"?)",
            "t.yaml:9: verify.max_error_rate: \"10%\" is not a number (write 0.10 for 10%)",
            "t.yaml:10: http.listen: \"8080\" is not host:port (IPv4, [IPv6] or localhost, port "
            "0-65535; e.g. 127.0.0.1:8080), or \"\" for no endpoint",
            "SLACK_APP_TOKEN: not set: set SLACK_APP_TOKEN (or SLACK_APP_TOKEN_FILE, a file "
            "holding it) to the Slack app-level token, xapp-…",
            "SLACK_BOT_TOKEN: does not start with xoxb-"));
}

TEST(ConfigLoader, AbsentSectionsAreReportedWithoutALine) {
    EXPECT_THAT(problems_of(""),
                ElementsAre("t.yaml: slack.incidents_channel: missing: commands are accepted only "
                            "in this channel (its C… id)",
                            "t.yaml: approvals.db: missing: DB downgrades need DBA or Engineering "
                            "Lead approval (runbook)"));
}

TEST(ConfigLoader, UnknownApprovalKindIsSuggestedAndDbStillRequired) {
    const std::string yaml = kSlack + "approvals:\n  dv:\n    approvers: {usergroups: [S0DBA]}\n";
    EXPECT_THAT(problems_of(yaml),
                ElementsAre("t.yaml:3: approvals.db: missing: DB downgrades need DBA or "
                            "Engineering Lead approval (runbook)",
                            "t.yaml:4: approvals.dv: unknown key \"dv\" (did you mean \"db\"?)"));
}

TEST(ConfigLoader, TokenKeysAreRejectedAnywhereWithoutEchoingThem) {
    const std::string yaml = with(
        "extra:\n"                                // 6
        "  token: xoxb-SECRET\n"                  // 7
        "console:\n"                              // 8
        "  bots: [{app_token: xapp-SECRET}]\n");  // 9
    const auto problems = problems_of(yaml);
    EXPECT_THAT(
        problems,
        ElementsAre(HasSubstr("t.yaml:6: extra: unknown key"),
                    HasSubstr("t.yaml:7: extra.token: tokens come only from the environment"),
                    "t.yaml:9: console.bots[0]: expected a single value, found a map",
                    HasSubstr("t.yaml:9: console.bots[0].app_token: tokens come only")));
    for (const auto& p : problems) {
        EXPECT_THAT(p, Not(HasSubstr("SECRET")));
    }
}

TEST(ConfigLoader, SelfReferencingAliasesEndAndAreReportedOnce) {
    EXPECT_THAT(problems_of(with("console: &c {bots: *c}\n"
                                 "extra: &e {token: x, again: *e}\n")),
                ElementsAre("t.yaml:6: console.bots: expected a list, found a map",
                            HasSubstr("t.yaml:7: extra: unknown key \"extra\""),
                            HasSubstr("t.yaml:7: extra.token: tokens come only")));
}

TEST(ConfigLoader, DefaultsFillEveryOmittedKey) {
    const auto result = parse(with(""));
    ASSERT_TRUE(result.has_value()) << ::testing::PrintToString(problems_of(result));
    core::Settings expected;
    expected.source = "t.yaml";
    expected.slack.incidents_channel = core::ChannelId{"C0INCIDENTS"};
    expected.approvals[core::ActionKind::Db].approvers.usergroups = {core::UsergroupId{"S0DBA"}};
    expected.kubernetes.deployments = {
        {"backend", {"backend", "ghcr.io/your-org/preskool-backend", 120s}},
        {"frontend", {"frontend", "ghcr.io/your-org/preskool-frontend", 60s}}};
    expected.script.path = "/nonexistent/rollbot/scripts/rollback.sh";
    expected.script.workdir = "/nonexistent/rollbot";
    EXPECT_EQ(*result, expected);
    EXPECT_EQ(result->slack.api_url, "https://slack.com/api/");
    EXPECT_EQ(result->approval_for(core::ActionKind::Db)->timeout, 15min);
    EXPECT_EQ(result->approval_for(core::ActionKind::Full), nullptr);
    EXPECT_EQ(result->console.user, core::UserId{"U0CONSOLE"});
    EXPECT_EQ(result->http, (core::HttpSettings{"127.0.0.1", 8080}));
}

TEST(ConfigLoader, ReadsEveryKindOfValue) {
    const auto result =
        parse(with("    required: 2\n"
                   "    required_groups: [S0DBA]\n"
                   "    allow_self_approval: true\n"
                   "    approve_reaction: \"+1\"\n"
                   "    reject_reaction: no_entry\n"
                   "    timeout: 1h30m\n"
                   "  full: {approvers: {users: [U0ALICE, W0BOB]}}\n"));
    ASSERT_TRUE(result.has_value()) << ::testing::PrintToString(problems_of(result));
    const auto& db = *result->approval_for(core::ActionKind::Db);
    EXPECT_EQ(db.required, 2);
    EXPECT_EQ(db.required_groups, std::vector{core::UsergroupId{"S0DBA"}});
    EXPECT_TRUE(db.allow_self_approval);
    EXPECT_EQ(db.approve_reaction, "+1");
    EXPECT_EQ(db.reject_reaction, "no_entry");
    EXPECT_EQ(db.timeout, 90min);
    EXPECT_EQ(result->approval_for(core::ActionKind::Full)->approvers.users,
              (std::vector{core::UserId{"U0ALICE"}, core::UserId{"W0BOB"}}));
}

TEST(ConfigLoader, AcceptsTheSpellingsEachRuleAllows) {
    const auto result = parse(
        with("kubernetes:\n"
             "  deployments:\n"
             "    backend: {image: \"localhost:5000/preskool-backend\"}\n"
             "    frontend: {image: preskool-frontend, rollout_timeout: 1m30s}\n"
             "migrations: {exec_target: pod/backend-7d9f.abc, alembic: [python, -m, alembic]}\n"
             "verify:\n"
             "  health_url: \"http://[::1]:8080/health?full=1\"\n"
             "  max_error_rate: 1\n"
             "  watch: 0\n"
             "targets: {total: 720h}\n"
             "http: {listen: \"[::1]:9090\"}\n"
             "console: {users: {U0ALICE: alice}, usergroups: {S0DBA: [U0BOB, W0CAROL]}}\n"));
    ASSERT_TRUE(result.has_value()) << ::testing::PrintToString(problems_of(result));
    EXPECT_EQ(result->kubernetes.deployments.at("backend").image,
              "localhost:5000/preskool-backend");
    EXPECT_EQ(result->kubernetes.deployments.at("backend").rollout_timeout, 120s);
    EXPECT_EQ(result->kubernetes.deployments.at("frontend").rollout_timeout, 90s);
    EXPECT_EQ(result->migrations.alembic, (std::vector<std::string>{"python", "-m", "alembic"}));
    EXPECT_EQ(result->verify.max_error_rate, 1.0);
    EXPECT_EQ(result->verify.watch, 0ms);
    EXPECT_EQ(result->targets.total, 720h);  // the longest a duration may be
    EXPECT_EQ(result->http, (core::HttpSettings{"::1", 9090}));
    EXPECT_EQ(result->console.usergroups.at(core::UsergroupId{"S0DBA"}).size(), 2u);
}

TEST(ConfigLoader, LocalhostListensOnTheLoopbackAddress) {
    const auto result = parse(with("http: {listen: \"localhost:18081\"}\n"));
    ASSERT_TRUE(result.has_value());
    EXPECT_EQ(result->http, (core::HttpSettings{"127.0.0.1", 18081}));
}

// Found by test/fuzz/fuzz_config: with YAML::LoadAll, yaml-cpp 0.7 returned empty documents
// without end for this file (vertical tabs in a comment, a stray `,slack:`), and the loader grew
// until memory ran out. It must be a configuration problem like any other.
TEST(ConfigLoader, InputThatMadeYamlCppLoadAllEndlessIsAnError) {
    const auto result = load_settings(
        ROLLBOT_SOURCE_DIR "/test/data/fuzz/config-loadall-endless.yaml",
        [](std::string_view) { return std::optional<std::string>{}; },
        LoadOptions{false});
    ASSERT_FALSE(result.has_value());
    EXPECT_FALSE(result.error().empty());
}

TEST(ConfigLoader, ListenPortZeroPicksAPortAndEmptyTurnsTheEndpointOff) {
    const auto any = parse(with("http: {listen: \"127.0.0.1:0\"}\n"));
    ASSERT_TRUE(any.has_value());
    EXPECT_EQ(any->http, (core::HttpSettings{"127.0.0.1", 0}));
    const auto off = parse(with("http: {listen: \"\"}\n"));
    ASSERT_TRUE(off.has_value());
    EXPECT_FALSE(off->http.enabled);
    EXPECT_TRUE(parse(with(""))->http.enabled) << "on by default";
}

TEST(ConfigLoader, ShutdownBoundsAreDurations) {
    const auto result = parse(with("shutdown: {grace: 45s, outbox_flush: 0}\n"));
    ASSERT_TRUE(result.has_value());
    EXPECT_EQ(result->shutdown.grace, 45s);
    EXPECT_EQ(result->shutdown.outbox_flush, 0ms);
    EXPECT_EQ(parse(with(""))->shutdown, core::ShutdownSettings{}) << "20 s and 5 s by default";
    const auto bad = parse(with("shutdown: {grace: soon}\n"));
    ASSERT_FALSE(bad.has_value());
    EXPECT_EQ(bad.error().front().key, "shutdown.grace");
}

TEST(ConfigLoader, ResolvesRelativePathsAgainstTheConfigDirectory) {
    TempDir dir;
    dir.write("etc/certs/ca.pem", "-----BEGIN CERTIFICATE-----\n");
    dir.write("etc/templates/help.mustache", "help");
    const auto path = dir.write("etc/rollbot.yaml",
                                with("kubernetes:\n"
                                     "  kubectl: ../bin/kubectl\n"
                                     "  kubeconfig: ./kube//config\n"
                                     "script:\n"
                                     "  path: ../scripts/rollback.sh\n"
                                     "  workdir: .\n"
                                     "state: {path: state/./state.db}\n"
                                     "templates: {dir: templates/}\n"
                                     "console: {}\n"));
    const auto result = load_settings(path.string(), env_of({}), kConsole);
    ASSERT_TRUE(result.has_value()) << ::testing::PrintToString(problems_of(result));
    const fs::path root = dir.path();
    EXPECT_EQ(result->source, path.string());
    EXPECT_EQ(result->kubernetes.kubectl, (root / "bin/kubectl").string());
    EXPECT_EQ(result->kubernetes.kubeconfig, (root / "etc/kube/config").string());
    EXPECT_EQ(result->script.path, (root / "scripts/rollback.sh").string());
    EXPECT_EQ(result->script.workdir, (root / "etc").string());
    EXPECT_EQ(result->state.path, (root / "etc/state/state.db").string());
    EXPECT_EQ(result->templates.dir, (root / "etc/templates").string());
}

TEST(ConfigLoader, KeepsAbsolutePathsAndProgramNames) {
    TempDir dir;
    const auto ca = dir.write("ca.pem", "x");
    const auto result = parse(slack_with("  ca_file: " + ca.string() + "\n") +
                              "kubernetes: {kubectl: kubectl}\nstate: {path: /var/lib/x.db}\n");
    ASSERT_TRUE(result.has_value()) << ::testing::PrintToString(problems_of(result));
    EXPECT_EQ(result->slack.ca_file, ca.string());
    EXPECT_EQ(result->kubernetes.kubectl, "kubectl");
    EXPECT_EQ(result->state.path, "/var/lib/x.db");
}

TEST(ConfigLoader, AnUnreadableFileIsOneProblem) {
    TempDir dir;
    const std::string missing = (dir.path() / "nope.yaml").string();
    EXPECT_THAT(problems_of(load_settings(missing, env_of({}), kDaemon)),
                ElementsAre(missing + ": cannot read: No such file or directory"));
    EXPECT_THAT(problems_of(load_settings(dir.path().string(), env_of({}), kDaemon)),
                ElementsAre(dir.path().string() + ": cannot read: it is a directory"));
}

TEST(ConfigLoader, ValueThrowsEveryProblem) {
    const auto result = parse("");
    try {
        (void)result.value();
        FAIL() << "value() returned settings";
    } catch (const std::runtime_error& e) {
        EXPECT_THAT(e.what(), HasSubstr("slack.incidents_channel: missing"));
        EXPECT_THAT(e.what(), HasSubstr("\nt.yaml: approvals.db: missing"));
    }
}

TEST(ConfigLoader, ProblemFormats) {
    EXPECT_EQ((Problem{"c/d.yaml", 12, "a.b", "bad"}.to_string()), "c/d.yaml:12: a.b: bad");
    EXPECT_EQ((Problem{"d.yaml", 0, "a.b", "missing"}.to_string()), "d.yaml: a.b: missing");
    EXPECT_EQ((Problem{"d.yaml", 3, "", "not valid YAML"}.to_string()), "d.yaml:3: not valid YAML");
    EXPECT_EQ((Problem{"", 0, "SLACK_BOT_TOKEN", "not set"}.to_string()),
              "SLACK_BOT_TOKEN: not set");
}

// ---- the environment ----

TEST(ConfigLoaderEnvironment, TokensComeFromVariables) {
    const auto result =
        parse(with(""),
              env_of({{"SLACK_APP_TOKEN", kAppToken}, {"SLACK_BOT_TOKEN", kBotToken}}),
              kDaemon);
    ASSERT_TRUE(result.has_value()) << ::testing::PrintToString(problems_of(result));
    EXPECT_EQ(result->tokens.app_token.reveal(), kAppToken);
    EXPECT_EQ(result->tokens.bot_token.reveal(), kBotToken);
}

TEST(ConfigLoaderEnvironment, TokensComeFromFilesTrimmed) {
    TempDir dir;
    const auto app = dir.write("app", std::string(kAppToken) + "\n");
    const auto bot = dir.write("bot", std::string(kBotToken) + " \r\n\n");
    const auto result = parse(
        with(""),
        env_of({{"SLACK_APP_TOKEN_FILE", app.string()}, {"SLACK_BOT_TOKEN_FILE", bot.string()}}),
        kDaemon);
    ASSERT_TRUE(result.has_value()) << ::testing::PrintToString(problems_of(result));
    EXPECT_EQ(result->tokens.app_token.reveal(), kAppToken);
    EXPECT_EQ(result->tokens.bot_token.reveal(), kBotToken);
}

TEST(ConfigLoaderEnvironment, MissingTokensAreErrorsOnlyWhenRequired) {
    EXPECT_THAT(problems_of(with(""), env_of({{"SLACK_APP_TOKEN", ""}}), kDaemon),
                ElementsAre(HasSubstr("SLACK_APP_TOKEN: not set"),
                            HasSubstr("SLACK_BOT_TOKEN: not set: set SLACK_BOT_TOKEN (or "
                                      "SLACK_BOT_TOKEN_FILE, a file holding it)")));
    const auto console = parse(with(""), env_of({}), kConsole);
    ASSERT_TRUE(console.has_value());
    EXPECT_TRUE(console->tokens.app_token.empty());
    EXPECT_TRUE(console->tokens.bot_token.empty());
}

TEST(ConfigLoaderEnvironment, GivenTokensAreCheckedEvenWhenNotRequired) {
    EXPECT_THAT(problems_of(with(""), env_of({{"SLACK_BOT_TOKEN", "xoxp-user-token"}}), kConsole),
                ElementsAre("SLACK_BOT_TOKEN: does not start with xoxb-"));
}

TEST(ConfigLoaderEnvironment, RejectsMalformedTokens) {
    const auto problems =
        problems_of(with(""),
                    env_of({{"SLACK_APP_TOKEN", kBotToken}, {"SLACK_BOT_TOKEN", "xoxb- SECRET"}}),
                    kDaemon);
    EXPECT_THAT(problems,
                ElementsAre("SLACK_APP_TOKEN: does not start with xapp- (it looks like "
                            "the other token: are SLACK_APP_TOKEN and SLACK_BOT_TOKEN "
                            "swapped?)",
                            HasSubstr("SLACK_BOT_TOKEN: is not a whole token")));
    EXPECT_THAT(problems_of(with(""), env_of({{"SLACK_BOT_TOKEN", "xoxb-"}}), kConsole),
                ElementsAre(HasSubstr("SLACK_BOT_TOKEN: is not a whole token (nothing after")));
}

TEST(ConfigLoaderEnvironment, AVariableAndItsFileVariantConflict) {
    TempDir dir;
    const auto file = dir.write("bot", kBotToken);
    EXPECT_THAT(problems_of(with(""),
                            env_of({{"SLACK_BOT_TOKEN", kBotToken},
                                    {"SLACK_BOT_TOKEN_FILE", file.string()}}),
                            kConsole),
                ElementsAre("SLACK_BOT_TOKEN: both SLACK_BOT_TOKEN and SLACK_BOT_TOKEN_FILE are "
                            "set: set only one"));
}

TEST(ConfigLoaderEnvironment, TokenFileProblems) {
    TempDir dir;
    const auto wrong = dir.write("wrong", std::string(kBotToken) + "\n");
    const auto empty = dir.write("empty", "\n");
    const std::string missing = (dir.path() / "missing").string();
    EXPECT_THAT(problems_of(with(""), env_of({{"SLACK_APP_TOKEN_FILE", missing}}), kConsole),
                ElementsAre("SLACK_APP_TOKEN_FILE: cannot read \"" + missing +
                            "\": No such file or directory"));
    EXPECT_THAT(problems_of(with(""), env_of({{"SLACK_APP_TOKEN_FILE", wrong.string()}}), kConsole),
                ElementsAre("SLACK_APP_TOKEN_FILE: the token in \"" + wrong.string() +
                            "\" does not start with xapp- (it looks like the other token: are "
                            "SLACK_APP_TOKEN and SLACK_BOT_TOKEN swapped?)"));
    EXPECT_THAT(problems_of(with(""), env_of({{"SLACK_BOT_TOKEN_FILE", empty.string()}}), kConsole),
                ElementsAre(::testing::AllOf(HasSubstr("SLACK_BOT_TOKEN_FILE: the token in"),
                                             HasSubstr("is empty"))));
    EXPECT_THAT(
        problems_of(with(""), env_of({{"SLACK_BOT_TOKEN_FILE", dir.path().string()}}), kConsole),
        ElementsAre(HasSubstr("it is a directory")));
    EXPECT_THAT(problems_of(with(""), env_of({{"SLACK_BOT_TOKEN_FILE", kBotToken}}), kConsole),
                ElementsAre("SLACK_BOT_TOKEN_FILE: holds a token, not a file name: set "
                            "SLACK_BOT_TOKEN instead, or name the file that holds it"));
}

TEST(ConfigLoaderState, UrlAndLeaseAreReadAndTheUrlIsASecret) {
    const auto result =
        parse(with("state:\n  url: postgresql://rollbot@db:5432/rollbot?sslmode=verify-full\n"
                   "  lease: 20s\n"),
              env_of({}),
              kConsole);
    ASSERT_TRUE(result.has_value()) << ::testing::PrintToString(problems_of(result));
    EXPECT_EQ(result->state.url.reveal(),
              "postgresql://rollbot@db:5432/rollbot?sslmode=verify-full");
    EXPECT_EQ(fmt::format("{}", result->state.url), "***");
    EXPECT_EQ(result->state.lease, std::chrono::seconds(20));
    const auto defaults = parse(with(""), env_of({}), kConsole);
    ASSERT_TRUE(defaults.has_value());
    EXPECT_TRUE(defaults->state.url.empty()) << "SQLite stays the default";
    EXPECT_EQ(defaults->state.lease, std::chrono::seconds(15));
}

TEST(ConfigLoaderState, APasswordInTheConfigFileIsRefusedWithoutRepeatingIt) {
    for (const std::string url : {"postgresql://rollbot:hunter2@db/rollbot",
                                  "postgres://db/rollbot?sslmode=require&password=hunter2"}) {
        const auto problems =
            problems_of(with("state:\n  url: \"" + url + "\"\n"), env_of({}), kConsole);
        ASSERT_EQ(problems.size(), 1U) << url;
        EXPECT_THAT(problems[0], HasSubstr("holds a password"));
        EXPECT_THAT(problems[0], HasSubstr("ROLLBOT_STATE_URL_FILE"));
        EXPECT_THAT(problems[0], Not(HasSubstr("hunter2")));
    }
    EXPECT_TRUE(parse(with("state:\n  url: postgresql://rollbot@db/x?passfile=/run/pgpass\n"),
                      env_of({}),
                      kConsole)
                    .has_value())
        << "a passfile parameter is not a password";
}

TEST(ConfigLoaderState, TheUrlFileMayHoldAPasswordAndConflictsWithTheKey) {
    TempDir dir;
    const auto file = dir.write("url", "postgresql://rollbot:hunter2@db/rollbot\n");
    const auto result =
        parse(with(""), env_of({{"ROLLBOT_STATE_URL_FILE", file.string()}}), kConsole);
    ASSERT_TRUE(result.has_value()) << ::testing::PrintToString(problems_of(result));
    EXPECT_EQ(result->state.url.reveal(), "postgresql://rollbot:hunter2@db/rollbot");
    EXPECT_THAT(problems_of(with("state:\n  url: postgresql://rollbot@db/rollbot\n"),
                            env_of({{"ROLLBOT_STATE_URL_FILE", file.string()}}),
                            kConsole),
                ElementsAre("ROLLBOT_STATE_URL_FILE: both state.url and ROLLBOT_STATE_URL_FILE "
                            "are set: set only one"));
    const auto bad = dir.write("bad", "mysql://root:hunter2@db/x");
    const auto problems =
        problems_of(with(""), env_of({{"ROLLBOT_STATE_URL_FILE", bad.string()}}), kConsole);
    ASSERT_EQ(problems.size(), 1U);
    EXPECT_THAT(problems[0], HasSubstr("is not a PostgreSQL connection URI"));
    EXPECT_THAT(problems[0], Not(HasSubstr("hunter2")));
    EXPECT_THAT(
        problems_of(
            with(""), env_of({{"ROLLBOT_STATE_URL_FILE", "postgresql://u:p@db/x"}}), kConsole),
        ElementsAre(HasSubstr("holds a URL, not a file name")));
}

TEST(ConfigLoaderEnvironment, ApiUrlOverrideIsCheckedAndGetsATrailingSlash) {
    const auto overridden = [](const std::string& url) {
        const auto result = parse(slack_with("  api_url: https://slack.example/api\n"),
                                  env_of({{"SLACK_API_URL", url}}));
        return result.has_value() ? result->slack.api_url : problems_of(result).at(0);
    };
    EXPECT_EQ(overridden("http://127.0.0.1:8443/api"), "http://127.0.0.1:8443/api/");
    EXPECT_EQ(overridden("http://localhost/api/"), "http://localhost/api/");
    EXPECT_EQ(overridden("http://[::1]:9/"), "http://[::1]:9/");
    EXPECT_EQ(overridden("https://slack.com/api"), "https://slack.com/api/");
    EXPECT_EQ(overridden(""), "https://slack.example/api/");  // empty: unset
    EXPECT_EQ(overridden("http://slack.com/api/"),
              "SLACK_API_URL: \"http://slack.com/api/\" must use https:// (http:// only for "
              "127.0.0.1, ::1 or localhost)");
    EXPECT_EQ(overridden("http://127.0.0.2/"),
              "SLACK_API_URL: \"http://127.0.0.2/\" must use "
              "https:// (http:// only for 127.0.0.1, ::1 or "
              "localhost)");
    EXPECT_EQ(overridden("ws://127.0.0.1/"),
              "SLACK_API_URL: \"ws://127.0.0.1/\" is not an https:// URL with a host");
    EXPECT_EQ(overridden("https://user:pw@slack.com/"),
              "SLACK_API_URL: \"https://user:pw@slack.com/\" is not an https:// URL with a host");
}

TEST(ConfigLoaderEnvironment, NoProblemEverShowsAToken) {
    TempDir dir;
    const auto file = dir.write("app", "xoxb-file-SECRET\n");
    const std::string yaml =
        "slack:\n"
        "  incidents_channel: xoxb-channel-SECRET\n"
        "  api_url: https://xoxb-host-SECRET/\n"
        "  bot_token: xoxb-key-SECRET\n"
        "console: {users: {U0X: [xapp-list-SECRET]}, user: \"a xoxp-SECRET\"}\n";
    const auto problems = problems_of(yaml,
                                      env_of({{"SLACK_APP_TOKEN_FILE", file.string()},
                                              {"SLACK_BOT_TOKEN", "xapp-env-SECRET"},
                                              {"SLACK_API_URL", "http://xoxb-url-SECRET/"}}),
                                      kDaemon);
    ASSERT_GE(problems.size(), 6u);
    for (const auto& p : problems) {
        EXPECT_THAT(p, Not(HasSubstr("SECRET")));
    }
    EXPECT_THAT(problems, ::testing::Contains(HasSubstr("\"xoxb-***\" is not a channel id")));
}

// ---- the shipped files ----

TEST(ConfigLoaderFiles, ExampleLoadsAndHoldsTheDefaults) {
    const std::string path = ROLLBOT_SOURCE_DIR "/config/rollbot.example.yaml";
    const auto env = env_of({{"SLACK_APP_TOKEN", kAppToken}, {"SLACK_BOT_TOKEN", kBotToken}});
    const auto example = load_settings(path, env, kDaemon);
    ASSERT_TRUE(example.has_value()) << ::testing::PrintToString(problems_of(example));

    // The same required values and nothing else: every other key must equal its default.
    const auto minimal = parse_settings(
        "slack: {incidents_channel: C0123456789}\n"
        "approvals: {db: {approvers: {usergroups: [S0DBA, S0LEADS]}}}\n",
        path,
        fs::path(path).parent_path(),
        env,
        kDaemon);
    ASSERT_TRUE(minimal.has_value()) << ::testing::PrintToString(problems_of(minimal));
    EXPECT_EQ(*example, *minimal);
}

TEST(ConfigLoaderFiles, DemoLoadsWithoutTokens) {
    const fs::path root = ROLLBOT_SOURCE_DIR;
    const auto demo = load_settings((root / "config/demo.yaml").string(), env_of({}), kConsole);
    ASSERT_TRUE(demo.has_value()) << ::testing::PrintToString(problems_of(demo));
    const auto under_root = [&](const char* p) {
        return (root / p).lexically_normal().string();
    };
    EXPECT_EQ(demo->slack.incidents_channel, core::ChannelId{"C0INCIDENTS"});
    EXPECT_EQ(demo->access.operators.users.size(), 3u);
    const auto& db = *demo->approval_for(core::ActionKind::Db);
    EXPECT_EQ(db.approvers.usergroups,
              (std::vector{core::UsergroupId{"S0DBA"}, core::UsergroupId{"S0LEADS"}}));
    EXPECT_EQ(db.required, 1);
    EXPECT_EQ(db.timeout, 15min);
    EXPECT_EQ(demo->kubernetes.kubectl, under_root("build/test/fakes/kubectl"));
    EXPECT_EQ(demo->kubernetes.kubeconfig, under_root("build/demo/cluster.json"));
    EXPECT_EQ(demo->script.path, under_root("build/test/fakes/rollback.sh"));
    EXPECT_EQ(demo->script.workdir, under_root("build/demo"));
    EXPECT_EQ(demo->script.timeout, 2min);
    EXPECT_EQ(demo->state.path, under_root("build/demo/state.db"));
    EXPECT_EQ(demo->verify.health_url, "http://127.0.0.1:18080/api/v1/health");
    EXPECT_EQ(demo->verify.watch, 0ms);
    EXPECT_EQ(demo->http, (core::HttpSettings{"127.0.0.1", 18081}));
    EXPECT_EQ(demo->console.user, core::UserId{"U0ALICE"});
    EXPECT_EQ(demo->console.users.at(core::UserId{"U0BOB"}), "bob (DBA)");
    EXPECT_EQ(demo->console.users.size(), 5u);
    EXPECT_EQ(demo->console.usergroups.at(core::UsergroupId{"S0LEADS"}),
              std::vector{core::UserId{"U0CAROL"}});
    EXPECT_EQ(demo->console.bots, std::vector{core::UserId{"U0ROLLBOT"}});
}

// ---- durations ----

struct DurationCase {
    const char* text;
    std::chrono::milliseconds expected;
};

class ParseDurationAccepts : public ::testing::TestWithParam<DurationCase> {};

TEST_P(ParseDurationAccepts, Text) {
    EXPECT_EQ(parse_duration(GetParam().text), GetParam().expected) << GetParam().text;
}

INSTANTIATE_TEST_SUITE_P(ParseDuration,
                         ParseDurationAccepts,
                         ::testing::Values(DurationCase{"0", 0ms},
                                           DurationCase{"0s", 0ms},
                                           DurationCase{"0h0m", 0ms},
                                           DurationCase{"500ms", 500ms},
                                           DurationCase{"90s", 90s},
                                           DurationCase{"15m", 15min},
                                           DurationCase{"2h", 2h},
                                           DurationCase{"1h30m", 90min},
                                           DurationCase{"1m30s", 90s},
                                           DurationCase{"1s500ms", 1500ms},
                                           DurationCase{"1h1m1s1ms", 3'661'001ms},
                                           DurationCase{"007s", 7s},
                                           DurationCase{"9223372036854775807ms",
                                                        std::chrono::milliseconds::max()},
                                           DurationCase{"2562047788015h", 2'562'047'788'015h}));

class ParseDurationRejects : public ::testing::TestWithParam<const char*> {};

TEST_P(ParseDurationRejects, Text) {
    EXPECT_EQ(parse_duration(GetParam()), std::nullopt);
}

// clang-format off
INSTANTIATE_TEST_SUITE_P(
    ParseDuration,
    ParseDurationRejects,
    ::testing::Values("",                                     // nothing
                      "5", "00", "90",                        // bare numbers other than 0
                      "-5m", "+5m", "-0",                     // signs
                      " 5m", "5m ", "5 m", "1h 30m", "5m\n", "\t5m",  // whitespace
                      "5M", "5S", "5min", "5d", "5us", "5sec",  // unknown units
                      "1.5h", "1,5h", "m", "h5", "1h30",      // no whole count, or no unit
                      "30m1h", "1m1m", "5ms5s",               // out of order or repeated
                      "2562047788016h", "99999999999999999999ms",  // overflow
                      "2562047788015h3600s",                  // overflow in the sum
                      "\xef\xbc\x95m"));                       // a full-width digit
// clang-format on

}  // namespace
}  // namespace rollbot::config
