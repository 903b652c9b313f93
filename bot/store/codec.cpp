#include "bot/store/codec.hpp"

#include <fmt/format.h>

namespace rollbot::store {

core::Error storage_error(std::string_view op, std::string_view message) {
    return core::make_error(core::ErrorKind::Storage, fmt::format("{}: {}", op, message));
}

std::int64_t to_ms(std::chrono::system_clock::time_point t) {
    return std::chrono::floor<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

std::chrono::system_clock::time_point from_ms(std::int64_t ms) {
    return std::chrono::system_clock::time_point{
        std::chrono::duration_cast<std::chrono::system_clock::duration>(
            std::chrono::milliseconds{ms})};
}

std::optional<core::ActionKind> action_kind_from_string(std::string_view text) {
    using K = core::ActionKind;
    for (K k : {K::Full, K::Backend, K::Frontend, K::Db, K::Sha}) {
        if (core::to_string(k) == text) {
            return k;
        }
    }
    return std::nullopt;
}

}  // namespace rollbot::store
