#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace rollbot::core {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
    std::string method = "GET";
    std::string url;
    Headers headers;  // values may be secret (Authorization): never log them
    std::string body;
    std::chrono::milliseconds timeout{std::chrono::seconds(10)};
    std::chrono::milliseconds connect_timeout{std::chrono::seconds(5)};
};

struct HttpResponse {
    int status = 0;
    Headers headers;  // names lower-cased
    std::string body;
    std::chrono::milliseconds elapsed{};

    [[nodiscard]] const std::string* header(std::string_view lower_name) const {
        for (const auto& [name, value] : headers) {
            if (name == lower_name) {
                return &value;
            }
        }
        return nullptr;
    }
};

/// `application/x-www-form-urlencoded` encoding of one value.
[[nodiscard]] std::string form_encode(std::string_view value);

}  // namespace rollbot::core
