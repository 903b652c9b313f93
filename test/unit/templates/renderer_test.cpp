#include "templates/renderer.hpp"

#include "test/support/temp_dir.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <string_view>
#include <type_traits>

namespace rollbot::templates {
namespace {

using ::testing::HasSubstr;

// Only a real bool becomes a boolean: an int or an optional turning silently into `true` would
// show sections nobody meant to show.
static_assert(std::is_constructible_v<Data, bool>);
static_assert(!std::is_constructible_v<Data, int>);
static_assert(!std::is_constructible_v<Data, std::optional<bool>>);
static_assert(!std::is_constructible_v<Data, std::string_view>);

// The "step" template replaced by `text`, to render Data through a template of the test's own.
Renderer with_step_template(const test::TempDir& dir, std::string_view text) {
    dir.write("step.mustache", text);
    return Renderer::with_overrides(dir.path());
}

Data revision(const char* tag) {
    Data rev = Data::object();
    rev.set("tag", tag);
    return rev;
}

TEST(Renderer, EveryBuiltinTemplateParses) {
    auto r = Renderer::builtin();
    const auto names = r.names();
    for (const char* expected : {"executed",
                                 "dry_run",
                                 "failed",
                                 "no_change",
                                 "request",
                                 "step",
                                 "status",
                                 "help",
                                 "usage_error",
                                 "refused"}) {
        EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected;
    }
}

TEST(Renderer, EscapesValuesForSlackSoUserTextCannotMention) {
    auto r = Renderer::builtin();
    Data d = Data::object();
    d.set("message", "<!channel> & <@U123> <https://evil|click>");
    d.set("usage", "u");
    const auto out = r.render("usage_error", d);
    EXPECT_THAT(out, HasSubstr("&lt;!channel&gt; &amp; &lt;@U123&gt; &lt;https://evil|click&gt;"));
    EXPECT_THAT(out, ::testing::Not(HasSubstr("<!channel>")));
}

TEST(Renderer, OverridesReplaceBuiltinsByName) {
    test::TempDir dir;
    dir.write("step.mustache", "STEP {{number}}");
    dir.write("README.txt", "ignored: not a template");
    auto r = Renderer::with_overrides(dir.path());
    Data d = Data::object();
    d.set("number", "2");
    EXPECT_EQ(r.render("step", d), "STEP 2");
    EXPECT_EQ(r.origin("step"), (dir.path() / "step.mustache").string());
    EXPECT_EQ(r.origin("executed"), "built-in");
}

TEST(Renderer, BrokenOrUnknownOverridesFailAtStartup) {
    test::TempDir broken;
    broken.write("step.mustache", "{{#open}} never closed");
    EXPECT_THROW((void)Renderer::with_overrides(broken.path()), TemplateError);
    test::TempDir unknown;
    unknown.write("exectued.mustache", "typo in the name");
    try {
        (void)Renderer::with_overrides(unknown.path());
        ADD_FAILURE() << "a misspelt override must not be silently ignored";
    } catch (const TemplateError& e) {
        EXPECT_THAT(e.what(), HasSubstr("no built-in template is called exectued"));
    }
    EXPECT_THROW((void)Renderer::with_overrides("/nonexistent/rollbot-templates"), TemplateError);
}

TEST(Renderer, UnknownTemplateIsABug) {
    auto r = Renderer::builtin();
    EXPECT_THROW((void)r.render("nope", Data::object()), std::logic_error);
}

TEST(RendererData, NestedListsOfObjectsRenderInOrderWithTheirParentsNames) {
    test::TempDir dir;
    auto r = with_step_template(
        dir,
        "{{#deployments}}[{{name}}:{{#revisions}} {{name}}@{{tag}}{{/revisions}}]{{/deployments}}");
    Data backend = Data::object();
    backend.set("name", "backend");
    Data revisions = Data::list();
    revisions.push_back(revision("b2"));
    revisions.push_back(revision("b1"));
    backend.set("revisions", revisions);
    Data frontend = Data::object();
    frontend.set("name", "frontend");
    frontend.set("revisions", Data::list());
    Data deployments = Data::list();
    deployments.push_back(backend);
    deployments.push_back(frontend);
    Data d = Data::object();
    d.set("deployments", deployments);
    EXPECT_EQ(r.render("step", d), "[backend: backend@b2 backend@b1][frontend:]");
}

TEST(RendererData, BooleansChooseBetweenASectionAndItsInverse) {
    test::TempDir dir;
    auto r = with_step_template(dir, "{{#ok}}ready{{/ok}}{{^ok}}not ready{{/ok}}");
    Data yes = Data::object();
    yes.set("ok", true);
    Data no = Data::object();
    no.set("ok", false);
    EXPECT_EQ(r.render("step", yes), "ready");
    EXPECT_EQ(r.render("step", no), "not ready");
}

TEST(RendererData, AnEmptyListHidesItsSectionAndShowsTheInverse) {
    test::TempDir dir;
    auto r = with_step_template(
        dir, "{{#runs}}<{{.}}>{{/runs}}{{^runs}}No rollback is running.{{/runs}}");
    Data none = Data::object();
    none.set("runs", Data::list());
    EXPECT_EQ(r.render("step", none), "No rollback is running.");
    Data runs = Data::list();
    runs.push_back(Data{"R1"});
    runs.push_back(Data{"R2"});
    Data two = Data::object();
    two.set("runs", runs);
    EXPECT_EQ(r.render("step", two), "<R1><R2>");
}

TEST(RendererData, AMissingKeyRendersNothingAndCountsAsFalse) {
    test::TempDir dir;
    auto r = with_step_template(
        dir, "a{{absent}}b{{{absent}}}c{{#absent}}shown{{/absent}}{{^absent}} hidden{{/absent}}");
    EXPECT_EQ(r.render("step", Data::object()), "abc hidden");
}

TEST(RendererData, AnObjectSectionRendersOnceWithItsNames) {
    test::TempDir dir;
    auto r = with_step_template(dir, "{{#database}}at {{revision}}{{/database}}.");
    Data database = Data::object();
    database.set("revision", "a1b2");
    Data d = Data::object();
    d.set("database", database);
    EXPECT_EQ(r.render("step", d), "at a1b2.");
}

// Slack mrkdwn needs only &, < and > escaped: quotes stay as typed (HTML escaping would show
// "&quot;" in the channel).
TEST(RendererData, NestedValuesAreEscapedForSlackUnlessTripleBraced) {
    test::TempDir dir;
    auto r = with_step_template(dir, "{{#records}}{{detail}}|{{{actor}}}{{/records}}");
    Data record = Data::object();
    record.set("detail", R"(<!channel> & <https://evil|click> "it's")");
    record.set("actor", "<@U0ALICE>");
    Data records = Data::list();
    records.push_back(record);
    Data d = Data::object();
    d.set("records", records);
    EXPECT_EQ(r.render("step", d),
              R"(&lt;!channel&gt; &amp; &lt;https://evil|click&gt; "it's"|<@U0ALICE>)");
}

TEST(RendererData, SetReplacesAnEarlierValueOfTheSameName) {
    test::TempDir dir;
    auto r = with_step_template(dir, "from {{from}}{{#dry_run}} (dry run){{/dry_run}}");
    Data d = Data::object();
    d.set("from", "e4d5c6b7");
    d.set("from", "revision 0042");  // how a DB downgrade's card says where it starts
    d.set("dry_run", "a string first");
    d.set("dry_run", false);
    EXPECT_EQ(r.render("step", d), "from revision 0042");
}

TEST(RendererData, SettingOnAListOrAppendingToAnObjectIsABug) {
    Data items = Data::list();
    EXPECT_THROW(items.set("name", "x"), std::logic_error);
    Data fields = Data::object();
    EXPECT_THROW(fields.push_back(Data{"x"}), std::logic_error);
    Data text{"x"};
    EXPECT_THROW(text.push_back(Data{"y"}), std::logic_error);
    EXPECT_THROW(text.set("name", true), std::logic_error);
}

}  // namespace
}  // namespace rollbot::templates
