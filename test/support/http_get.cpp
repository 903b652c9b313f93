#include "test/support/http_get.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <charconv>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace rollbot::test {

RawResponse http_exchange(std::uint16_t port,
                          std::string_view request,
                          std::chrono::milliseconds timeout) {
    RawResponse response;
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return response;
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(fd);
        return response;
    }
    std::size_t sent = 0;
    while (sent < request.size()) {
        const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) {
            break;
        }
        sent += static_cast<std::size_t>(n);
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    char buffer[4096];
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            break;
        }
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
            break;
        }
        const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n <= 0) {
            break;
        }
        response.raw.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(fd);
    const auto end = response.raw.find("\r\n\r\n");
    if (response.raw.starts_with("HTTP/1.") && response.raw.size() >= 12) {
        int status = 0;
        std::from_chars(response.raw.data() + 9, response.raw.data() + 12, status);
        response.status = status;
    }
    if (end != std::string::npos) {
        response.headers = response.raw.substr(0, end + 2);
        response.body = response.raw.substr(end + 4);
    }
    return response;
}

RawResponse http_get(std::uint16_t port, std::string_view path, std::string_view method) {
    std::string request;
    request.append(method).append(" ").append(path).append(
        " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    return http_exchange(port, request);
}

std::optional<std::uint16_t> listening_port(std::string_view log) {
    constexpr std::string_view kKey = "http.listening address=";
    const auto at = log.find(kKey);
    if (at == std::string_view::npos) {
        return std::nullopt;
    }
    const auto start = at + kKey.size();
    const auto end = std::min(log.find_first_of(" \n", start), log.size());
    const auto colon = log.rfind(':', end);  // IPv6 hosts have colons too: the last one
    if (colon == std::string_view::npos || colon < start) {
        return std::nullopt;
    }
    unsigned port = 0;
    auto [ptr, ec] = std::from_chars(log.data() + colon + 1, log.data() + end, port);
    if (ec != std::errc{} || ptr != log.data() + end || port == 0 || port > 65535) {
        return std::nullopt;
    }
    return static_cast<std::uint16_t>(port);
}

}  // namespace rollbot::test
