#include "config/checks.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>

namespace rollbot::config::detail {
namespace {

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}
bool is_lower_alnum(char c) {
    return (c >= 'a' && c <= 'z') || is_digit(c);
}

bool has_space_or_control(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](char c) {
        return static_cast<unsigned char>(c) <= ' ' || c == '\x7f';
    });
}

// RFC 1123 label: container and namespace names.
bool is_dns_label(std::string_view s) {
    return !s.empty() && s.size() <= 63 && is_lower_alnum(s.front()) && is_lower_alnum(s.back()) &&
           std::all_of(s.begin(), s.end(), [](char c) { return is_lower_alnum(c) || c == '-'; });
}

// RFC 1123 subdomain (pod names): labels joined by dots, up to 253 characters.
bool is_dns_subdomain(std::string_view s) {
    if (s.empty() || s.size() > 253) {
        return false;
    }
    std::size_t start = 0;
    while (true) {
        const std::size_t dot = s.find('.', start);
        if (!is_dns_label(s.substr(start, dot - start))) {
            return false;
        }
        if (dot == std::string_view::npos) {
            return true;
        }
        start = dot + 1;
    }
}

std::optional<std::uint16_t> parse_port(std::string_view s) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (s.empty() || ec != std::errc{} || end != s.data() + s.size() || value < 1 ||
        value > 65535) {
        return std::nullopt;
    }
    return static_cast<std::uint16_t>(value);
}

bool is_ipv4(std::string_view s) {
    int parts = 0;
    std::size_t start = 0;
    while (start <= s.size()) {
        const std::size_t dot = std::min(s.find('.', start), s.size());
        const std::string_view part = s.substr(start, dot - start);
        unsigned value = 0;
        auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), value);
        if (part.empty() || part.size() > 3 || ec != std::errc{} ||
            end != part.data() + part.size() || value > 255) {
            return false;
        }
        ++parts;
        start = dot + 1;
    }
    return parts == 4;
}

bool is_ipv6(std::string_view s) {
    return s.find(':') != std::string_view::npos && std::all_of(s.begin(), s.end(), [](char c) {
               return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' ||
                      c == '.';
           });
}

bool is_host_name(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
        return is_lower_alnum(c) || (c >= 'A' && c <= 'Z') || c == '.' || c == '-' || c == '_';
    });
}

struct Url {
    std::string_view scheme;
    std::string_view host;  // without the brackets of an IPv6 literal
};

// Just enough of RFC 3986 to reject what would fail at 3 a.m.: scheme, host, optional port.
std::optional<Url> split_url(std::string_view s) {
    const std::size_t sep = s.find("://");
    if (sep == std::string_view::npos || has_space_or_control(s)) {
        return std::nullopt;
    }
    Url url{s.substr(0, sep), {}};
    std::string_view authority = s.substr(sep + 3);
    authority = authority.substr(0, authority.find_first_of("/?#"));
    if ((url.scheme != "http" && url.scheme != "https") ||
        authority.find('@') != std::string_view::npos) {  // no credentials in URLs
        return std::nullopt;
    }
    std::optional<std::string_view> port;
    if (authority.starts_with('[')) {
        const std::size_t close = authority.find(']');
        if (close == std::string_view::npos) {
            return std::nullopt;
        }
        url.host = authority.substr(1, close - 1);
        const std::string_view rest = authority.substr(close + 1);
        if (!is_ipv6(url.host) || (!rest.empty() && !rest.starts_with(':'))) {
            return std::nullopt;
        }
        if (!rest.empty()) {
            port = rest.substr(1);
        }
    } else {
        const std::size_t colon = authority.find(':');
        url.host = authority.substr(0, colon);
        if (colon != std::string_view::npos) {
            port = authority.substr(colon + 1);
        }
        if (!is_host_name(url.host)) {
            return std::nullopt;
        }
    }
    if (port && !parse_port(*port)) {
        return std::nullopt;
    }
    return url;
}

bool is_loopback(std::string_view host) {
    return host == "127.0.0.1" || host == "::1" || host == "localhost";
}

}  // namespace

bool is_incidents_channel_id(std::string_view s) {
    return core::is_channel_id(s) && s.front() != 'D';  // a DM is no incidents channel
}

std::optional<std::string> check_dns_label(std::string_view s) {
    if (is_dns_label(s)) {
        return std::nullopt;
    }
    return "is not a DNS label (lower-case letters, digits and -, at most 63)";
}

std::optional<std::string> check_image_repository(std::string_view s) {
    if (s.empty() || has_space_or_control(s)) {
        return "is not an image repository (e.g. ghcr.io/your-org/preskool-backend)";
    }
    const std::size_t last_slash = s.rfind('/');
    const std::size_t name_start = last_slash == std::string_view::npos ? 0 : last_slash + 1;
    const std::size_t tag = s.find_first_of(":@", name_start);
    if (tag == std::string_view::npos) {
        return std::nullopt;
    }
    return "has a tag or digest: give the repository only (" + std::string(s.substr(0, tag)) +
           "); rollbot adds the tag it rolls back to";
}

std::optional<std::string> check_exec_target(std::string_view s) {
    const std::size_t slash = s.find('/');
    const std::string_view kind = slash == std::string_view::npos ? "" : s.substr(0, slash);
    const std::string_view name = slash == std::string_view::npos ? s : s.substr(slash + 1);
    const bool kind_ok = slash == std::string_view::npos || kind == "deployment" ||
                         kind == "deploy" || kind == "pod";
    if (kind_ok && is_dns_subdomain(name)) {
        return std::nullopt;
    }
    return "is not an exec target (use deployment/NAME, deploy/NAME, pod/NAME or a pod name)";
}

std::optional<std::string> check_emoji_name(std::string_view s) {
    const auto ok = [](char c) {
        return is_lower_alnum(c) || c == '_' || c == '+' || c == '\'' || c == '-';
    };
    if (!s.empty() && std::all_of(s.begin(), s.end(), ok)) {
        return std::nullopt;
    }
    if (s.size() > 2 && s.front() == ':' && s.back() == ':') {
        return "is not a reaction name: write it without colons (" +
               std::string(s.substr(1, s.size() - 2)) + ")";
    }
    return "is not a reaction name (lower-case letters, digits, _ + ' -; e.g. white_check_mark)";
}

std::optional<std::string> check_http_url(std::string_view s) {
    if (split_url(s)) {
        return std::nullopt;
    }
    return "is not an http:// or https:// URL with a host";
}

std::optional<std::string> check_slack_api_url(std::string_view s) {
    const auto url = split_url(s);
    if (!url) {
        return "is not an https:// URL with a host";
    }
    if (url->scheme == "http" && !is_loopback(url->host)) {
        return "must use https:// (http:// only for 127.0.0.1, ::1 or localhost)";
    }
    return std::nullopt;
}

std::optional<std::string> check_state_url(std::string_view s, bool password_allowed) {
    std::string_view rest;
    for (std::string_view scheme : {"postgresql://", "postgres://"}) {
        if (s.starts_with(scheme)) {
            rest = s.substr(scheme.size());
        }
    }
    if (rest.data() == nullptr) {
        return "is not a PostgreSQL connection URI (postgresql://user@host:5432/dbname?…)";
    }
    if (std::any_of(s.begin(), s.end(), [](char c) { return c <= ' ' || c == '\x7f'; })) {
        return "has spaces or control characters in it";
    }
    if (password_allowed) {
        return std::nullopt;
    }
    const auto authority = rest.substr(0, rest.find_first_of("/?"));
    const auto at = authority.rfind('@');
    const bool in_userinfo =
        at != std::string_view::npos && authority.substr(0, at).find(':') != std::string_view::npos;
    const auto query = rest.find('?');
    const bool in_query = query != std::string_view::npos &&
                          (rest.find("?password=", query) != std::string_view::npos ||
                           rest.find("&password=", query) != std::string_view::npos);
    if (in_userinfo || in_query) {
        return "holds a password, which does not belong in the config file: use PGPASSWORD, "
               "PGPASSFILE, a client certificate, or put the whole URL in a file named by "
               "ROLLBOT_STATE_URL_FILE";
    }
    return std::nullopt;
}

std::string with_trailing_slash(std::string url) {
    if (!url.ends_with('/')) {
        url += '/';
    }
    return url;
}

std::optional<core::HttpSettings> parse_listen_address(std::string_view s) {
    std::string_view host;
    std::string_view port;
    if (s.starts_with('[')) {
        const std::size_t close = s.find("]:");
        if (close == std::string_view::npos || !is_ipv6(s.substr(1, close - 1))) {
            return std::nullopt;
        }
        host = s.substr(1, close - 1);
        port = s.substr(close + 2);
    } else {
        const std::size_t colon = s.rfind(':');
        if (colon == std::string_view::npos) {
            return std::nullopt;
        }
        host = s.substr(0, colon);
        port = s.substr(colon + 1);
        if (host != "localhost" && !is_ipv4(host)) {
            return std::nullopt;
        }
    }
    // Port 0 asks the kernel for a free port (the daemon logs the one it got): tests use it.
    const auto number = port == "0" ? std::optional<std::uint16_t>{0} : parse_port(port);
    if (!number) {
        return std::nullopt;
    }
    return core::HttpSettings{host == "localhost" ? "127.0.0.1" : std::string(host), *number, true};
}

}  // namespace rollbot::config::detail
