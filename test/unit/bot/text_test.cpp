#include "bot/text.hpp"

#include <gtest/gtest.h>

namespace rollbot::core {
namespace {

TEST(LogQuote, FreeTextCannotForgeAnotherField) {
    EXPECT_EQ(log_quote("fees broke"), "\"fees broke\"");
    EXPECT_EQ(log_quote("x\" rule=approved \"y"), "\"x\\\" rule=approved \\\"y\"");
    EXPECT_EQ(log_quote("a\\b"), "\"a\\\\b\"");
    EXPECT_EQ(log_quote(""), "\"\"");
}

TEST(DefuseCodeFences, NoFenceSurvives) {
    EXPECT_EQ(defuse_code_fences("a ``` b ```` c"), "a ''' b '''` c");
    EXPECT_EQ(defuse_code_fences("SELECT 1;"), "SELECT 1;");
}

}  // namespace
}  // namespace rollbot::core
