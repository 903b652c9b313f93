// The audit hash chain, the same for both stores: the record encoding and the walk that
// verifies it.

#include "bot/store/audit_chain.hpp"

#include "bot/store/codec.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <array>

namespace rollbot::store {
namespace {

// Bumped if the encoding ever changes, so old and new chains cannot be confused.
constexpr std::string_view kHashTag = "rollbot-audit-v1";

void append_field(std::string& out, std::string_view field) {
    const auto n = static_cast<std::uint64_t>(field.size());
    for (int shift = 56; shift >= 0; shift -= 8) {
        out.push_back(static_cast<char>((n >> shift) & 0xffU));
    }
    out.append(field);
}

}  // namespace

std::string sha256_hex(std::string_view bytes) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
    unsigned int len = 0;
    const int ok = EVP_Digest(bytes.data(), bytes.size(), md.data(), &len, EVP_sha256(), nullptr);
    ROLLBOT_CHECK(ok == 1 && len == 32, "EVP_Digest(SHA-256) failed");
    std::string hex;
    hex.reserve(std::size_t{2} * len);
    for (unsigned int i = 0; i < len; ++i) {
        hex += fmt::format("{:02x}", md[i]);
    }
    return hex;
}

std::string audit_hash(std::string_view prev_hash,
                       std::int64_t seq,
                       std::int64_t at_ms,
                       std::string_view kind,
                       std::string_view request_id,
                       std::string_view actor,
                       std::string_view detail) {
    const std::string seq_text = std::to_string(seq);
    const std::string at_text = std::to_string(at_ms);
    const std::array<std::string_view, 7> fields{
        prev_hash, seq_text, at_text, kind, request_id, actor, detail};
    std::string in{kHashTag};
    for (std::string_view f : fields) {
        append_field(in, f);
    }
    return sha256_hex(in);
}

bool AuditChainCheck::fail(std::int64_t seq, std::string problem) {
    check_.ok = false;
    check_.first_bad = seq;
    check_.problem = std::move(problem);
    return false;
}

bool AuditChainCheck::add(const core::AuditRecord& r) {
    if (!check_.ok) {
        return false;
    }
    const std::int64_t expected = last_seq_ + 1;
    if (r.seq != expected) {
        return fail(expected,
                    r.seq > expected
                        ? fmt::format("record {} is missing (deleted?): seq jumps from {} to {}",
                                      expected,
                                      last_seq_,
                                      r.seq)
                        : fmt::format("gap in seq: expected {}, found {}", expected, r.seq));
    }
    if (r.prev_hash != last_hash_) {
        return fail(
            r.seq,
            fmt::format("broken link: prev_hash does not match the hash of record {}", last_seq_));
    }
    const auto at = to_ms(r.at);
    if (audit_hash(r.prev_hash, r.seq, at, r.kind, r.request_id.value, r.actor, r.detail) !=
        r.hash) {
        return fail(r.seq, "hash mismatch: the record's content was changed");
    }
    ++check_.records;
    last_seq_ = r.seq;
    last_hash_ = r.hash;
    return true;
}

core::AuditCheck AuditChainCheck::finish(const std::optional<AuditHead>& head) const {
    if (!check_.ok) {
        return check_;
    }
    core::AuditCheck out = check_;
    const std::int64_t head_seq = head ? head->seq : 0;
    if (head_seq > last_seq_) {
        out.ok = false;
        out.first_bad = last_seq_ + 1;
        out.problem = fmt::format(
            "records {}..{} are missing (deleted from the end)", last_seq_ + 1, head_seq);
    } else if (head_seq < last_seq_) {
        out.ok = false;
        out.first_bad = head_seq + 1;
        out.problem =
            fmt::format("record {} was not appended by rollbot (the audit head ends at {})",
                        head_seq + 1,
                        head_seq);
    } else if (head && head->hash != last_hash_) {
        out.ok = false;
        out.first_bad = last_seq_;
        out.problem = "hash mismatch: the last record differs from the audit head";
    }
    return out;
}

}  // namespace rollbot::store
