#include "adapters/slack/message_split.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace rollbot::slack {
namespace {

using ::testing::ElementsAre;
using ::testing::StartsWith;

constexpr std::string_view kFence = "```";
const std::string kGrin = "\xF0\x9F\x98\x80";  // 😀, 4 bytes
const std::string kEuro = "\xE2\x82\xAC";      // €, 3 bytes
const std::string kEacute = "\xC3\xA9";        // é, 2 bytes

bool valid_utf8(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        const auto lead = static_cast<unsigned char>(s[i]);
        std::size_t len = 0;
        if (lead < 0x80) {
            len = 1;
        } else if ((lead & 0xE0U) == 0xC0U) {
            len = 2;
        } else if ((lead & 0xF0U) == 0xE0U) {
            len = 3;
        } else if ((lead & 0xF8U) == 0xF0U) {
            len = 4;
        } else {
            return false;
        }
        if (i + len > s.size()) {
            return false;
        }
        for (std::size_t j = 1; j < len; ++j) {
            if ((static_cast<unsigned char>(s[i + j]) & 0xC0U) != 0x80U) {
                return false;
            }
        }
        i += len;
    }
    return true;
}

std::size_t count_fences(std::string_view s) {
    std::size_t n = 0;
    for (std::size_t i = s.find(kFence); i != std::string_view::npos; i = s.find(kFence, i + 3)) {
        ++n;
    }
    return n;
}

// Undoes what split_message adds (prefix, reopened and closed fences) and checks that the parts
// are exactly the input, in order. Where a part could be read two ways (a real fence right at
// the cut), both readings are tried against the input.
class Reassembler {
public:
    Reassembler(std::string_view text, const std::vector<std::string>& parts)
        : text_(text), parts_(parts), open_(text.size() + 1), inside_fence_(text.size() + 1) {
        bool open = false;
        std::size_t i = 0;
        while (i < text.size()) {
            open_[i] = open;
            if (text.substr(i, 3) == kFence) {
                inside_fence_[i + 1] = inside_fence_[i + 2] = true;
                open = !open;
                i += 3;
            } else {
                ++i;
            }
        }
        open_[text.size()] = open;
    }

    // The chunks of the input, one per part, or nullopt when the parts lost or changed text.
    std::optional<std::vector<std::string_view>> chunks() {
        chunks_.clear();
        if (match(0, 0)) {
            return chunks_;
        }
        return std::nullopt;
    }

    [[nodiscard]] bool ends_open() const { return open_.back(); }

private:
    bool match(std::size_t i, std::size_t pos) {
        if (i == parts_.size()) {
            return pos == text_.size();
        }
        if (pos >= text_.size() || failed_.contains({i, pos})) {
            return false;
        }
        std::string_view p = parts_[i];
        if (i > 0) {
            const std::string prefix =
                "(continued " + std::to_string(i + 1) + "/" + std::to_string(parts_.size()) + ")\n";
            if (!p.starts_with(prefix)) {
                return false;
            }
            p.remove_prefix(prefix.size());
            if (open_[pos]) {
                if (!p.starts_with("```\n")) {
                    return false;
                }
                p.remove_prefix(4);
            }
        }
        const bool closed_after_newline = p.ends_with("\n```");
        const std::vector<std::pair<std::size_t, bool>> readings = {
            {p.size(), false},
            {closed_after_newline ? p.size() - 3 : 0, true},
            {closed_after_newline ? p.size() - 4 : 0, true},
        };
        for (const auto& [len, closed] : readings) {
            const std::size_t end = pos + len;
            if (len == 0 || end > text_.size() || inside_fence_[end] ||
                text_.substr(pos, len) != p.substr(0, len)) {
                continue;
            }
            // A close is added exactly when the cut is inside a block (never after the last
            // part): right after a line break, or on a line of its own.
            const bool must_close = end < text_.size() && open_[end];
            const bool body_ends_nl = text_[end - 1] == '\n';
            if (closed != must_close || (closed && (len == p.size() - 3) != body_ends_nl)) {
                continue;
            }
            chunks_.push_back(text_.substr(pos, len));
            if (match(i + 1, end)) {
                return true;
            }
            chunks_.pop_back();
        }
        failed_.insert({i, pos});
        return false;
    }

    std::string_view text_;
    const std::vector<std::string>& parts_;
    std::vector<bool> open_;
    std::vector<bool> inside_fence_;
    std::vector<std::string_view> chunks_;
    std::set<std::pair<std::size_t, std::size_t>> failed_;
};

// Every property the callers rely on, for one input.
void check_split(const std::string& text, std::size_t limit, const std::string& label) {
    SCOPED_TRACE(label + " (limit " + std::to_string(limit) + ", " + std::to_string(text.size()) +
                 " bytes)");
    const std::vector<std::string> parts = split_message(text, limit);
    ASSERT_FALSE(parts.empty());
    if (text.size() <= limit) {
        ASSERT_EQ(parts, std::vector<std::string>{text});
        return;
    }
    ASSERT_GE(parts.size(), 2U);
    for (std::size_t i = 0; i < parts.size(); ++i) {
        ASSERT_LE(parts[i].size(), limit) << "part " << i;
        if (valid_utf8(text)) {
            ASSERT_TRUE(valid_utf8(parts[i])) << "part " << i << " cuts a character";
        }
    }
    Reassembler reassembler{text, parts};
    const auto chunks = reassembler.chunks();
    ASSERT_TRUE(chunks.has_value()) << "text lost or changed";
    for (std::size_t i = 0; i < parts.size(); ++i) {
        const bool last = i + 1 == parts.size();
        const bool odd = count_fences(parts[i]) % 2 == 1;
        ASSERT_EQ(odd, last && reassembler.ends_open()) << "unbalanced ``` in part " << i;
        const std::string_view chunk = (*chunks)[i];
        // Line breaks first, then spaces, and only then anywhere (a break in the first half of
        // a part is passed over rather than sending a nearly empty message).
        if (!last && !chunk.ends_with('\n')) {
            ASSERT_EQ(chunk.find('\n', limit / 2), std::string_view::npos) << "part " << i;
            if (!chunk.ends_with(' ')) {
                ASSERT_EQ(chunk.find(' ', limit / 2), std::string_view::npos) << "part " << i;
            }
        }
    }
}

TEST(SplitMessage, ShortTextIsOnePartUnchanged) {
    EXPECT_THAT(split_message("deploy backend abc1234f: done"),
                ElementsAre("deploy backend abc1234f: done"));
    EXPECT_THAT(split_message(""), ElementsAre(""));
    EXPECT_THAT(split_message("```\nunclosed", 100), ElementsAre("```\nunclosed"));
    const std::string exact(kMaxMessageBytes, 'x');
    EXPECT_THAT(split_message(exact), ElementsAre(exact));
    EXPECT_EQ(split_message(exact + "x").size(), 2U);
}

TEST(SplitMessage, SplitsAtLineBreaksAndNumbersParts) {
    std::string text;
    for (int i = 0; i < 10; ++i) {
        text += "line " + std::to_string(i) + std::string(13, '.') + "\n";  // 20 bytes
    }
    const auto lines = [&](std::size_t from, std::size_t to) {
        return text.substr(from * 20, (to - from) * 20);
    };
    EXPECT_THAT(
        split_message(text, 100),
        ElementsAre(
            lines(0, 5), "(continued 2/3)\n" + lines(5, 9), "(continued 3/3)\n" + lines(9, 10)));
}

TEST(SplitMessage, FallsBackToSpacesThenHardCuts) {
    std::string words;
    for (int i = 0; i < 40; ++i) {
        words += "word" + std::to_string(i % 10) + " ";
    }
    const auto by_space = split_message(words, 64);
    ASSERT_GE(by_space.size(), 2U);
    EXPECT_EQ(by_space[0], words.substr(0, 60));  // 10 whole words, ending with the space
    check_split(words, 64, "words");

    const std::string solid(1000, 'x');
    const auto hard = split_message(solid, 100);
    EXPECT_EQ(hard[0], std::string(100, 'x'));
    // The prefix reserves room for the widest counters ("12/12"), so this part has a byte spare.
    EXPECT_EQ(hard[1], "(continued 2/12)\n" + std::string(82, 'x'));
    check_split(solid, 100, "solid");
}

TEST(SplitMessage, NeverCutsAMultiByteCharacter) {
    for (const std::string& ch : {kGrin, kEuro, kEacute}) {
        std::string text;
        while (text.size() < 5000) {
            text += ch;
        }
        for (std::size_t limit : {64U, 65U, 66U, 67U, 99U, 100U, 101U, 3900U}) {
            check_split(text, limit, "repeated " + std::to_string(ch.size()) + "-byte char");
        }
    }
    std::string emoji_words;
    for (int i = 0; i < 300; ++i) {
        emoji_words.append(kGrin).append(kGrin).append(kEuro).append(i % 7 == 0 ? "\n" : " ");
    }
    check_split(emoji_words, 70, "emoji words");
}

TEST(SplitMessage, ClosesAndReopensCodeBlocks) {
    std::string text = "Rollback log:\n```\n";
    for (int i = 0; i < 8; ++i) {
        text += "step " + std::to_string(i) + " ok\n";  // 10 bytes
    }
    text += "```\nDone.";
    const auto parts = split_message(text, 64);
    ASSERT_EQ(parts.size(), 3U);
    EXPECT_EQ(parts[0], "Rollback log:\n```\nstep 0 ok\nstep 1 ok\nstep 2 ok\nstep 3 ok\n```");
    EXPECT_EQ(parts[1], "(continued 2/3)\n```\nstep 4 ok\nstep 5 ok\nstep 6 ok\nstep 7 ok\n```\n");
    EXPECT_EQ(parts[2], "(continued 3/3)\nDone.");
    check_split(text, 64, "log");
}

TEST(SplitMessage, LongLineInsideACodeBlock) {
    const std::string text = "```\n" + std::string(500, 'y') + "\n```";
    const auto parts = split_message(text, 100);
    ASSERT_GE(parts.size(), 2U);
    EXPECT_THAT(parts[0], StartsWith("```\ny"));
    EXPECT_TRUE(parts[0].ends_with("y\n```")) << parts[0];
    EXPECT_THAT(parts[1], StartsWith("(continued 2/"));
    check_split(text, 100, "long code line");
}

TEST(SplitMessage, RealisticLogAtTheDefaultLimit) {
    std::string text = "*ROLLBACK EXECUTED* backend → abc1234f\n```\n";
    for (int i = 0; i < 600; ++i) {
        text += "2024-06-11T10:" + std::to_string(10 + i % 50) +
                ":00Z deployment.apps/backend rolled back (pod " + std::to_string(i) + ")\n";
    }
    text += "```\nHealth: all green " + kGrin;
    const auto parts = split_message(text);
    EXPECT_GE(parts.size(), 10U);
    check_split(text, kMaxMessageBytes, "kubectl log");
}

TEST(SplitMessage, ManyPartsKeepTheLimitWithLongCounters) {
    std::string text;
    for (int i = 0; i < 1500; ++i) {
        text += "w" + std::to_string(i % 100) + (i % 9 == 0 ? "\n" : " ");
    }
    const auto parts = split_message(text, 64);
    ASSERT_GE(parts.size(), 100U);
    const std::string n = std::to_string(parts.size());
    EXPECT_THAT(parts.back(), StartsWith("(continued " + n + "/" + n + ")\n"));
    check_split(text, 64, "many parts");
}

TEST(SplitMessage, TinyLimitStillLosesNothing) {
    const std::string text = "```\n" + std::string(300, 'z') + kGrin + "\n```\nafter";
    const auto parts = split_message(text, 5);
    EXPECT_GE(parts.size(), 2U);
    Reassembler reassembler{text, parts};
    EXPECT_TRUE(reassembler.chunks().has_value());
    for (const auto& part : parts) {
        EXPECT_LE(part.size(), 64U);  // limits below 64 bytes cannot fit a prefix and fences
    }
}

TEST(SplitMessage, GeneratedInputsKeepEveryProperty) {
    const std::vector<std::string> fixed_tokens = {" ",
                                                   "  ",
                                                   "\n",
                                                   "\n\n",
                                                   "```",
                                                   "```\n",
                                                   "\n```\n",
                                                   "`",
                                                   "``",
                                                   "\t",
                                                   kGrin,
                                                   kEuro,
                                                   kEacute,
                                                   "*bold*",
                                                   "<@U0ALICE>"};
    for (unsigned seed = 0; seed < 400; ++seed) {
        std::mt19937 rng{seed};
        const auto pick = [&](std::size_t n) {
            return std::uniform_int_distribution<std::size_t>{0, n - 1}(rng);
        };
        const std::size_t target = pick(3000);
        std::string text;
        while (text.size() < target) {
            switch (pick(4)) {
                case 0:
                    text += fixed_tokens[pick(fixed_tokens.size())];
                    break;
                case 1:
                    text += std::string(1 + pick(12), static_cast<char>('a' + pick(26)));
                    break;
                case 2:
                    text += std::string(pick(300), 'x');  // a line too long for one part
                    break;
                default:
                    for (std::size_t i = pick(60); i > 0; --i) {
                        text += i % 2 == 0 ? kGrin : kEuro;  // no break opportunity at all
                    }
            }
        }
        const std::size_t limit = 64 + pick(400);
        check_split(text, limit, "seed " + std::to_string(seed));
        if (HasFatalFailure()) {
            return;
        }
    }
}

TEST(SplitMessage, InvalidUtf8DoesNotHangOrLoseText) {
    std::mt19937 rng{7};
    for (int round = 0; round < 50; ++round) {
        std::string bytes(200 + rng() % 2000, '\0');
        for (char& c : bytes) {
            c = static_cast<char>(rng() % 256);
        }
        check_split(bytes, 64 + rng() % 200, "random bytes " + std::to_string(round));
        if (HasFatalFailure()) {
            return;
        }
    }
    check_split(std::string(1000, '\x80'), 64, "continuation bytes only");
}

}  // namespace
}  // namespace rollbot::slack
