#include "actions/process_capture.hpp"

#include "test/support/output_digest.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace rollbot::actions {
namespace {

using test::expected_digest;

using Stream = ProcessCapture::Stream;

const std::string kOpen = "\n… [";
const std::string kClose = " bytes omitted] …\n";

actions::ProcessOutput finish(ProcessCapture& capture) {
    actions::ProcessOutput output;
    capture.finish(output);
    return output;
}

actions::ProcessOutput capture_out(std::size_t cap, std::string_view data, std::size_t chunk) {
    ProcessCapture capture(cap);
    for (std::size_t i = 0; i < data.size(); i += chunk) {
        capture.append(Stream::Out, data.substr(i, chunk));
    }
    return finish(capture);
}

// Distinct, position-revealing text: "0,1,2,...".
std::string numbers(std::size_t size) {
    std::string s;
    for (int i = 0; s.size() < size; ++i) {
        s += std::to_string(i) + ",";
    }
    s.resize(size);
    return s;
}

std::string random_bytes(std::size_t size, std::mt19937& rng) {
    std::uniform_int_distribution<int> byte(0, 255);
    std::string s(size, '\0');
    for (char& c : s) {
        c = static_cast<char>(byte(rng));
    }
    return s;
}

// Whether `s` is a sequence of whole UTF-8 characters (lead byte, then its continuation bytes).
bool whole_utf8(std::string_view s) {
    for (std::size_t i = 0; i < s.size();) {
        const auto lead = static_cast<unsigned char>(s[i]);
        const std::size_t len = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
        if ((lead & 0xC0) == 0x80 || i + len > s.size()) {
            return false;
        }
        for (std::size_t k = 1; k < len; ++k) {
            if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) {
                return false;
            }
        }
        i += len;
    }
    return true;
}

struct Split {
    std::string head;
    std::size_t omitted = 0;
    std::string tail;
};

// Splits kept text at its marker; fails the test when there is none.
Split split(const std::string& kept) {
    const auto open = kept.find(kOpen);
    const auto close = kept.find(kClose);
    EXPECT_NE(open, std::string::npos) << kept;
    EXPECT_NE(close, std::string::npos) << kept;
    if (open == std::string::npos || close == std::string::npos) {
        return {};
    }
    const auto digits = kept.substr(open + kOpen.size(), close - open - kOpen.size());
    return {kept.substr(0, open), std::stoul(digits), kept.substr(close + kClose.size())};
}

TEST(ProcessCaptureTest, UnderTheCapNothingIsCut) {
    const std::string out = numbers(100);
    ProcessCapture capture(100);
    capture.append(Stream::Out, out.substr(0, 37));
    capture.append(Stream::Err, "warn\n");
    capture.append(Stream::Out, out.substr(37));
    const auto o = finish(capture);
    EXPECT_EQ(o.out, out);
    EXPECT_EQ(o.err, "warn\n");
    EXPECT_FALSE(o.out_truncated);
    EXPECT_FALSE(o.err_truncated);
    EXPECT_EQ(o.out_bytes, 100U);
    EXPECT_EQ(o.err_bytes, 5U);
}

TEST(ProcessCaptureTest, NothingWrittenKeepsNothing) {
    ProcessCapture capture(100);
    const auto o = finish(capture);
    EXPECT_EQ(o.out, "");
    EXPECT_EQ(o.err, "");
    EXPECT_FALSE(o.out_truncated);
    EXPECT_EQ(o.out_bytes, 0U);
    EXPECT_EQ(o.digest, expected_digest("", ""));
}

TEST(ProcessCaptureTest, OverTheCapKeepsHeadMarkerAndTailExactly) {
    // Cap 100, 250 bytes: the marker for 250 is 29 bytes, leaving 71 = 35 head + 36 tail.
    const std::string data = numbers(250);
    const auto o = capture_out(100, data, 250);
    EXPECT_EQ(o.out, data.substr(0, 35) + "\n… [179 bytes omitted] …\n" + data.substr(214));
    EXPECT_EQ(o.out.size(), 100U);
    EXPECT_TRUE(o.out_truncated);
    EXPECT_EQ(o.out_bytes, 250U);
    EXPECT_FALSE(o.err_truncated);
}

TEST(ProcessCaptureTest, JustOverTheCapTakesTheTailFromWhatTheHeadHeld) {
    const std::string data = numbers(101);
    const auto o = capture_out(100, data, 7);
    EXPECT_EQ(o.out, data.substr(0, 35) + "\n… [30 bytes omitted] …\n" + data.substr(65));
    EXPECT_TRUE(o.out_truncated);
    EXPECT_EQ(o.out_bytes, 101U);
}

TEST(ProcessCaptureTest, LongOutputKeepsItsStartAndItsVeryEnd) {
    const std::string data = numbers(3'000'000);
    for (const std::size_t chunk : {std::size_t{1000}, std::size_t{65536}, data.size()}) {
        SCOPED_TRACE(chunk);
        const auto o = capture_out(4096, data, chunk);
        EXPECT_TRUE(o.out_truncated);
        EXPECT_EQ(o.out_bytes, data.size());
        EXPECT_LE(o.out.size(), 4096U);
        const auto [head, omitted, tail] = split(o.out);
        EXPECT_EQ(head, data.substr(0, head.size()));
        EXPECT_EQ(tail, data.substr(data.size() - tail.size()));
        EXPECT_EQ(omitted, data.size() - head.size() - tail.size());
        EXPECT_GE(head.size() + tail.size(), 4096U - 40U);  // only the marker's room is given up
        EXPECT_GE(tail.size(), head.size());
    }
}

TEST(ProcessCaptureTest, CapBelowTheMarkerKeepsOnlyTheHead) {
    const std::string data = numbers(50);
    const auto o = capture_out(10, data, 3);
    EXPECT_EQ(o.out, data.substr(0, 10));
    EXPECT_TRUE(o.out_truncated);
    EXPECT_EQ(o.out_bytes, 50U);

    const auto none = capture_out(0, data, 50);
    EXPECT_EQ(none.out, "");
    EXPECT_TRUE(none.out_truncated);
    EXPECT_EQ(none.out_bytes, 50U);
}

TEST(ProcessCaptureTest, Utf8IsNeverCutInsideACharacter) {
    std::string text;
    while (text.size() < 2000) {
        text += "a é € 😀 ";  // 1-, 2-, 3- and 4-byte characters
    }
    int cut_inside = 0;  // how often a byte-exact cut would have split a character
    for (std::size_t shift = 0; shift < 4; ++shift) {
        const std::string data = std::string(shift, '>') + text;
        for (std::size_t cap = 40; cap < 140; ++cap) {
            SCOPED_TRACE(testing::Message() << "shift=" << shift << " cap=" << cap);
            const auto o = capture_out(cap, data, 13);
            ASSERT_TRUE(o.out_truncated);
            EXPECT_LE(o.out.size(), cap);
            EXPECT_TRUE(whole_utf8(o.out)) << o.out;
            const auto [head, omitted, tail] = split(o.out);
            EXPECT_TRUE(whole_utf8(head));
            EXPECT_TRUE(whole_utf8(tail));
            EXPECT_EQ(head, data.substr(0, head.size()));
            EXPECT_EQ(tail, data.substr(data.size() - tail.size()));
            EXPECT_EQ(omitted, data.size() - head.size() - tail.size());
            const std::size_t budget = cap - (kOpen.size() + 4 + kClose.size());
            EXPECT_GE(head.size() + 3, budget / 2);  // never more than one character given up
            cut_inside += head.size() != budget / 2 ? 1 : 0;
        }
    }
    EXPECT_GT(cut_inside, 100);  // the loop did exercise cuts that had to move
}

TEST(ProcessCaptureTest, DigestMatchesAnIndependentSha256OfEveryByte) {
    std::mt19937 rng(20240601);
    const std::string out = random_bytes(300'000, rng);
    const std::string err = random_bytes(70'000, rng);
    std::uniform_int_distribution<std::size_t> piece(0, 5000);
    ProcessCapture capture(1000);
    std::size_t at_out = 0;
    std::size_t at_err = 0;
    while (at_out < out.size() || at_err < err.size()) {
        const std::size_t n_out = std::min(piece(rng), out.size() - at_out);
        capture.append(Stream::Out, std::string_view(out).substr(at_out, n_out));
        at_out += n_out;
        const std::size_t n_err = std::min(piece(rng) / 4, err.size() - at_err);
        capture.append(Stream::Err, std::string_view(err).substr(at_err, n_err));
        at_err += n_err;
    }
    const auto o = finish(capture);
    EXPECT_EQ(o.digest, expected_digest(out, err));
    EXPECT_NE(o.digest, expected_digest(err, out));
    EXPECT_EQ(o.out_bytes, out.size());
    EXPECT_EQ(o.err_bytes, err.size());
    EXPECT_EQ(o.digest.size(), 64U);
}

TEST(ProcessCaptureTest, DigestMatchesAKnownAnswer) {
    // python3: sha256(sha256(b"hello\n").digest() + sha256(b"oops\n").digest()).hexdigest()
    ProcessCapture capture(4);
    capture.append(Stream::Out, "hel");
    capture.append(Stream::Err, "oops\n");
    capture.append(Stream::Out, "lo\n");
    EXPECT_EQ(finish(capture).digest,
              "02cfe0bc21020cbd956891a0916f81dad8856b709b89d0b52511300bd6f0d928");
}

TEST(ProcessCaptureTest, HowTheBytesAreChunkedChangesNothing) {
    std::mt19937 rng(7);
    const std::string data = numbers(20'000);
    ProcessCapture whole(1500);
    whole.append(Stream::Err, data);
    ProcessCapture pieces(1500);
    std::uniform_int_distribution<std::size_t> piece(0, 700);
    for (std::size_t at = 0; at < data.size();) {
        const std::size_t n = std::min(piece(rng), data.size() - at);
        pieces.append(Stream::Err, std::string_view(data).substr(at, n));
        at += n;
    }
    const auto a = finish(whole);
    const auto b = finish(pieces);
    EXPECT_EQ(a.err, b.err);
    EXPECT_EQ(a.err_bytes, b.err_bytes);
    EXPECT_EQ(a.err_truncated, b.err_truncated);
    EXPECT_EQ(a.digest, b.digest);
    EXPECT_EQ(a.out, "");
}

}  // namespace
}  // namespace rollbot::actions
