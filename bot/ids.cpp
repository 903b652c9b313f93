#include "bot/ids.hpp"

#include <algorithm>

namespace rollbot::core {
namespace {

// Slack ids: a type letter, then 2–20 upper-case letters and digits (U012AB3CD, C0INCIDENTS).
bool slack_id(std::string_view s, std::string_view first_letters) {
    if (s.size() < 3 || s.size() > 21 || first_letters.find(s.front()) == std::string_view::npos) {
        return false;
    }
    return std::all_of(s.begin() + 1, s.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    });
}

}  // namespace

bool is_user_id(std::string_view s) {
    return slack_id(s, "UW");
}
bool is_usergroup_id(std::string_view s) {
    return slack_id(s, "S");
}
bool is_channel_id(std::string_view s) {
    return slack_id(s, "CGD");
}

}  // namespace rollbot::core
