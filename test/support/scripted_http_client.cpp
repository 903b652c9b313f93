#include "test/support/scripted_http_client.hpp"

#include <utility>

namespace rollbot::test {

ScriptedHttpClient::ScriptedHttpClient(core::Result<core::HttpResponse> answer)
    : answer_(std::move(answer)) {}

boost::asio::awaitable<core::Result<core::HttpResponse>> ScriptedHttpClient::send(
    core::HttpRequest request) {
    requests_.push_back(std::move(request));
    co_return answer_;
}

}  // namespace rollbot::test
