#include "adapters/slack/message_split.hpp"

#include <algorithm>
#include <iterator>
#include <optional>

namespace rollbot::slack {
namespace {

constexpr std::string_view kFence = "```";
constexpr std::string_view kReopen = "```\n";
// "(continued " + k + "/" + n + ")\n" without the digits.
constexpr std::size_t kPrefixFixedBytes = 14;
// The worst case overhead of one part (prefix with up to 19-digit counters, reopened and closed
// fence) plus one 4-byte character. Smaller limits cannot be honoured and are raised to this.
constexpr std::size_t kMinLimit = 64;

std::size_t digits(std::size_t n) {
    std::size_t d = 1;
    while (n >= 10) {
        n /= 10;
        ++d;
    }
    return d;
}

// Starts of ``` runs, found left to right without overlap (how Slack pairs them up).
std::vector<std::size_t> find_fences(std::string_view text) {
    std::vector<std::size_t> fences;
    for (std::size_t i = text.find(kFence); i != std::string_view::npos;
         i = text.find(kFence, i + kFence.size())) {
        fences.push_back(i);
    }
    return fences;
}

class Splitter {
public:
    Splitter(std::string_view text, std::size_t limit)
        : text_(text), limit_(limit), fences_(find_fences(text)) {}

    // Chunks for a prefix that reserves `counter_digits` digits for each of k and n.
    struct Chunk {
        std::size_t begin = 0;
        std::size_t end = 0;
        bool reopen = false;
        bool close = false;
    };

    std::vector<Chunk> chunks(std::size_t counter_digits) const {
        std::vector<Chunk> out;
        std::size_t pos = 0;
        bool in_block = false;
        while (pos < text_.size()) {
            std::size_t front = in_block ? kReopen.size() : 0;
            if (!out.empty()) {
                front += kPrefixFixedBytes + 2 * counter_digits;
            }
            const std::size_t budget = limit_ > front ? limit_ - front : 0;
            std::size_t end = cut(pos, budget);
            if (end < text_.size() && inside_block(end) && end - pos + close_bytes(end) > budget) {
                end = cut(pos, budget > kReopen.size() ? budget - kReopen.size() : 0);
            }
            const bool close = end < text_.size() && inside_block(end);
            out.push_back(Chunk{pos, end, in_block, close});
            in_block = close;
            pos = end;
        }
        return out;
    }

    std::string render(const Chunk& chunk, std::size_t k, std::size_t n) const {
        std::string part;
        if (k > 1) {
            part = "(continued " + std::to_string(k) + "/" + std::to_string(n) + ")\n";
        }
        if (chunk.reopen) {
            part += kReopen;
        }
        part += text_.substr(chunk.begin, chunk.end - chunk.begin);
        if (chunk.close) {
            part += text_[chunk.end - 1] == '\n' ? "" : "\n";
            part += kFence;
        }
        return part;
    }

private:
    std::size_t close_bytes(std::size_t end) const {
        return kFence.size() + (text_[end - 1] == '\n' ? 0 : 1);
    }

    // True when `pos` (never inside a fence) lies between an opening and a closing fence.
    bool inside_block(std::size_t pos) const {
        const auto before = std::lower_bound(fences_.begin(), fences_.end(), pos);
        return (before - fences_.begin()) % 2 == 1;
    }

    // The fence that `pos` falls strictly inside of, if any.
    std::optional<std::size_t> fence_around(std::size_t pos) const {
        const auto after = std::lower_bound(fences_.begin(), fences_.end(), pos);
        if (after == fences_.begin()) {
            return std::nullopt;
        }
        const std::size_t start = *std::prev(after);
        return start < pos && pos < start + kFence.size() ? std::optional{start} : std::nullopt;
    }

    static bool is_continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0U) == 0x80U; }

    // Where the part starting at `pos` ends with at most `budget` bytes: after the last line
    // break, else after the last space, else at a character boundary outside a fence. A break
    // in the first half of the window is not worth it: "```\n" alone, then a long line cut
    // anyway, would only waste a message.
    std::size_t cut(std::size_t pos, std::size_t budget) const {
        if (text_.size() - pos <= budget) {
            return text_.size();
        }
        const std::string_view window = text_.substr(pos, budget);
        const std::size_t half = budget / 2;
        if (const auto nl = window.rfind('\n'); nl != std::string_view::npos && nl >= half) {
            return pos + nl + 1;
        }
        if (const auto sp = window.rfind(' '); sp != std::string_view::npos && sp >= half) {
            return pos + sp + 1;
        }
        // At most 3 continuation bytes follow a lead byte; past that the input is not UTF-8 and
        // any cut is as good as another.
        std::size_t end = pos + budget;
        for (int i = 0; i < 3 && end > pos && is_continuation(text_[end]); ++i) {
            --end;
        }
        if (const auto fence = fence_around(end)) {
            end = *fence;
        }
        if (end > pos) {
            return end;
        }
        return forced_cut(pos);
    }

    // A budget too small for even one character or fence: take exactly one, so splitting ends.
    std::size_t forced_cut(std::size_t pos) const {
        if (text_.substr(pos, kFence.size()) == kFence) {
            return pos + kFence.size();
        }
        std::size_t end = pos + 1;
        while (end < text_.size() && end - pos < 4 && is_continuation(text_[end])) {
            ++end;
        }
        return end;
    }

    std::string_view text_;
    std::size_t limit_;
    std::vector<std::size_t> fences_;
};

}  // namespace

std::vector<std::string> split_message(std::string_view text, std::size_t limit) {
    if (text.size() <= limit) {
        return {std::string{text}};
    }
    const Splitter splitter{text, std::max(limit, kMinLimit)};
    // The prefix length depends on the number of parts: grow the reserved digits until the
    // count fits them (at most a few rounds, since more digits only mean more parts by a bit).
    std::size_t counter_digits = 1;
    auto chunks = splitter.chunks(counter_digits);
    while (digits(chunks.size()) > counter_digits) {
        counter_digits = digits(chunks.size());
        chunks = splitter.chunks(counter_digits);
    }
    std::vector<std::string> parts;
    parts.reserve(chunks.size());
    for (std::size_t i = 0; i < chunks.size(); ++i) {
        parts.push_back(splitter.render(chunks[i], i + 1, chunks.size()));
    }
    return parts;
}

}  // namespace rollbot::slack
