#include "bot/result.hpp"

#include <spdlog/spdlog.h>

namespace rollbot::core {

void check_failed(const char* expr, const char* msg, const char* file, int line) {
    spdlog::critical("check failed: {} ({}) at {}:{}", msg, expr, file, line);
    spdlog::shutdown();
    std::fprintf(stderr, "rollbotd: check failed: %s (%s) at %s:%d\n", msg, expr, file, line);
    std::abort();
}

}  // namespace rollbot::core
