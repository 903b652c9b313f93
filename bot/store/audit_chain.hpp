#pragma once

#include "bot/ports/state_store.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rollbot::store {

/// prev_hash of the first record.
inline constexpr std::string_view kGenesisHash =
    "0000000000000000000000000000000000000000000000000000000000000000";

/// Lower-case hex SHA-256 (OpenSSL EVP) of `bytes`.
[[nodiscard]] std::string sha256_hex(std::string_view bytes);

/// The hash of one record: SHA-256 over a version tag and each field prefixed by its length
/// (8 bytes, big-endian), so no shifting of bytes between fields yields the same input.
[[nodiscard]] std::string audit_hash(std::string_view prev_hash,
                                     std::int64_t seq,
                                     std::int64_t at_ms,
                                     std::string_view kind,
                                     std::string_view request_id,
                                     std::string_view actor,
                                     std::string_view detail);

/// The last record as the store remembers it apart from the chain (catches a cut-off tail).
struct AuditHead {
    std::int64_t seq = 0;
    std::string hash;
};

/// Walks a chain one record at a time in seq order (pure: no I/O) and reports the first record
/// that does not verify: a gap in seq, a broken link to the previous hash, or a hash mismatch.
class AuditChainCheck {
public:
    /// Checks the next record; false once the chain is broken (later records are not looked at).
    bool add(const core::AuditRecord& record);
    /// The verdict, comparing the end of the chain with the remembered head.
    [[nodiscard]] core::AuditCheck finish(const std::optional<AuditHead>& head) const;

private:
    bool fail(std::int64_t seq, std::string problem);

    core::AuditCheck check_;
    std::int64_t last_seq_ = 0;
    std::string last_hash_{kGenesisHash};
};

}  // namespace rollbot::store
