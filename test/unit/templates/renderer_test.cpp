#include "templates/renderer.hpp"

#include "test/support/temp_dir.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace rollbot::templates {
namespace {

using ::testing::HasSubstr;

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
    Data d{Data::type::object};
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
    Data d{Data::type::object};
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
    EXPECT_THROW((void)r.render("nope", Data{Data::type::object}), std::logic_error);
}

}  // namespace
}  // namespace rollbot::templates
