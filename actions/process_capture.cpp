#include "actions/process_capture.hpp"

#include "bot/result.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace rollbot::actions {
namespace {

class Sha256 {
public:
    Sha256() : ctx_(EVP_MD_CTX_new(), &EVP_MD_CTX_free) {
        ROLLBOT_CHECK(ctx_ && EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) == 1,
                      "process.digest: cannot initialise SHA-256");
    }
    void update(std::string_view data) { EVP_DigestUpdate(ctx_.get(), data.data(), data.size()); }
    std::string finish() {
        std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
        unsigned int len = 0;
        EVP_DigestFinal_ex(ctx_.get(), md.data(), &len);
        return {reinterpret_cast<const char*>(md.data()), len};
    }

private:
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx_;
};

std::string omitted_marker(std::size_t n) {
    return fmt::format("\n… [{} bytes omitted] …\n", n);
}

bool utf8_continuation(char c) {
    return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

// Holds the first `limit` bytes and the latest `limit` to `2 * limit`, whatever the child writes.
class BoundedCapture {
public:
    explicit BoundedCapture(std::size_t limit) : limit_(limit) {}

    void append(std::string_view data) {
        total_ += data.size();
        const std::size_t to_head = std::min(data.size(), limit_ - head_.size());
        head_.append(data.substr(0, to_head));
        tail_.append(data.substr(to_head));
        if (tail_.size() > 2 * limit_) {
            tail_.erase(0, tail_.size() - limit_);
        }
    }
    [[nodiscard]] std::size_t total() const { return total_; }
    [[nodiscard]] bool truncated() const { return total_ > limit_; }

    [[nodiscard]] std::string kept() const {
        // Room for the widest marker (omitted <= total), so head + marker + tail <= limit.
        const std::size_t reserve = omitted_marker(total_).size();
        if (!truncated() || reserve >= limit_) {
            return head_;
        }
        const std::size_t budget = limit_ - reserve;
        const std::size_t want = budget - budget / 2;  // head_ is full, and want <= limit_
        std::string tail = tail_.size() >= want
                               ? tail_.substr(tail_.size() - want)
                               : head_.substr(limit_ - (want - tail_.size())) + tail_;
        // Cut on UTF-8 character boundaries: the text ends up in Slack messages.
        std::size_t head_len = budget / 2;
        std::size_t skip = 0;
        for (int i = 0; i < 3; ++i) {
            head_len -= head_len > 0 && utf8_continuation(head_[head_len]) ? 1U : 0U;
            skip += skip < tail.size() && utf8_continuation(tail[skip]) ? 1U : 0U;
        }
        tail.erase(0, skip);
        return head_.substr(0, head_len) + omitted_marker(total_ - head_len - tail.size()) + tail;
    }

private:
    std::size_t limit_;
    std::size_t total_ = 0;
    std::string head_;
    std::string tail_;
};

}  // namespace

struct ProcessCapture::Capture {
    explicit Capture(std::size_t limit) : capture(limit) {}
    BoundedCapture capture;
    Sha256 sha;
};

ProcessCapture::ProcessCapture(std::size_t max_bytes)
    : out_(std::make_unique<Capture>(max_bytes)), err_(std::make_unique<Capture>(max_bytes)) {}

ProcessCapture::~ProcessCapture() = default;

void ProcessCapture::append(Stream stream, std::string_view data) {
    Capture& s = stream == Stream::Out ? *out_ : *err_;
    s.capture.append(data);
    s.sha.update(data);
}

void ProcessCapture::finish(actions::ProcessOutput& output) {
    ROLLBOT_CHECK(!finished_, "process.capture: finish() called twice");
    finished_ = true;
    output.out = out_->capture.kept();
    output.err = err_->capture.kept();
    output.out_truncated = out_->capture.truncated();
    output.err_truncated = err_->capture.truncated();
    output.out_bytes = out_->capture.total();
    output.err_bytes = err_->capture.total();
    Sha256 digest;
    digest.update(out_->sha.finish());
    digest.update(err_->sha.finish());
    std::string hex;
    for (const char ch : digest.finish()) {
        hex += fmt::format("{:02x}", static_cast<unsigned char>(ch));
    }
    output.digest = std::move(hex);
}

}  // namespace rollbot::actions
