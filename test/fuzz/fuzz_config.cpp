// The YAML loader against any text: problems, never a crash or an exception; a file that
// loads must load the same way twice (the loader has no hidden state).
#include "config/loader.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view yaml(reinterpret_cast<const char*>(data), size);
    const rollbot::config::Environment env = [](std::string_view) {
        return std::optional<std::string>{};
    };
    rollbot::config::LoadOptions options;
    options.require_slack_tokens = false;
    auto first = rollbot::config::parse_settings(yaml, "fuzz.yaml", "/nonexistent", env, options);
    if (!first) {
        for (const auto& problem : first.error()) {
            if (problem.message.empty()) {
                std::abort();  // every problem says what is wrong
            }
        }
        return 0;
    }
    auto second = rollbot::config::parse_settings(yaml, "fuzz.yaml", "/nonexistent", env, options);
    if (!second || *second != *first) {
        std::abort();
    }
    return 0;
}
