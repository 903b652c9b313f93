// Socket Mode frames as Slack (or anyone on the wire) could send them: decode_frame must never
// crash, and whatever carries an envelope_id must give an ack that is valid JSON naming it.
#include "adapters/slack/envelope_codec.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view frame(reinterpret_cast<const char*>(data), size);
    const auto decoded = rollbot::slack::decode_frame(frame);
    if (decoded.envelope_id) {
        const auto ack = rollbot::slack::encode_ack(*decoded.envelope_id, std::nullopt);
        const auto parsed = nlohmann::json::parse(ack, nullptr, false);
        if (parsed.is_discarded() ||
            parsed.value("envelope_id", "") != decoded.envelope_id->value) {
            std::abort();  // an ack Slack could not match to its envelope
        }
    }
    return 0;
}
