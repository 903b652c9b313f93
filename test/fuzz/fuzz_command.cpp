// The /rollback grammar against any text: never crash; what parses must describe itself, and
// a SHA or a DB revision that parses must be one the grammar allows (no shell metacharacter
// can reach an argv).
#include "bot/command.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace {

bool safe_token(const std::string& s) {
    for (char c : s) {
        const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                        (c >= 'A' && c <= 'Z') || c == '_' || c == '-';
        if (!ok) {
            return false;
        }
    }
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto parsed = rollbot::core::parse_command(text);
    if (!parsed) {
        if (parsed.error().message.empty()) {
            std::abort();  // every refusal says why
        }
        return 0;
    }
    if (parsed->rollback) {
        const auto& r = *parsed->rollback;
        if (r.sha && (!rollbot::core::is_commit_sha(*r.sha))) {
            std::abort();
        }
        // A revision is [A-Za-z0-9_]{1,64}; without one, a step count of at least 1.
        if (r.db && (!safe_token(r.db->revision) || r.db->revision.size() > 64 ||
                     (r.db->revision.empty() && r.db->steps < 1) ||
                     !safe_token(r.db->alembic_argument()))) {
            std::abort();
        }
        (void)rollbot::core::describe(r);
    }
    return 0;
}
