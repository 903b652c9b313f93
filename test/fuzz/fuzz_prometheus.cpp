// Prometheus answers (any status, any body): the instant-query reader must give a value or
// "no data"/"error" with a reason, never a crash, and never a value that is NaN or infinite.
#include "actions/prometheus.hpp"

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) {
        return 0;
    }
    const int status = 200 + (data[0] % 4) * 100 + (data[1] % 30);
    const std::string_view body(reinterpret_cast<const char*>(data + 2), size - 2);
    using namespace rollbot::actions;
    for (auto worst : {Worst::Highest, Worst::Lowest}) {
        const auto reading = parse_instant_query(status, body, worst);
        if (reading.value && !std::isfinite(*reading.value)) {
            std::abort();  // NaN and ±Inf are "no data", never a number in a report
        }
    }
    (void)first_crossing_in(body, 0.1);
    return 0;
}
