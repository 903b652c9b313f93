#include "actions/history.hpp"

#include "actions/kubectl.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace rollbot::actions {
namespace {

using nlohmann::json;

// Splits concatenated JSON documents at their top level, minding strings and escapes.
std::vector<std::string_view> split_documents(std::string_view text) {
    std::vector<std::string_view> docs;
    int depth = 0;
    bool in_string = false;
    bool escaped = false;
    std::size_t start = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            escaped = !escaped && c == '\\';
            in_string = escaped || c != '"';
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            start = depth++ == 0 ? i : start;
        } else if ((c == '}' || c == ']') && depth > 0 && --depth == 0) {
            docs.push_back(text.substr(start, i - start + 1));
        }
    }
    return docs;
}

std::string text_at(const json& j, const json::json_pointer& at) {
    return j.contains(at) && j.at(at).is_string() ? j.at(at).get<std::string>() : std::string{};
}

}  // namespace

core::Result<std::vector<core::RevisionInfo>> parse_rollout_history(std::string_view documents,
                                                                    std::string_view container) {
    std::vector<core::RevisionInfo> out;
    for (const auto doc : split_documents(documents)) {
        const json rs = json::parse(doc, nullptr, false);
        if (rs.is_discarded() || !rs.is_object()) {
            return core::Error{core::ErrorKind::Protocol, "kubectl rollout history: not JSON"};
        }
        core::RevisionInfo info;
        const std::string revision = text_at(
            rs, json::json_pointer("/metadata/annotations/deployment.kubernetes.io~1revision"));
        info.revision = std::strtoll(revision.c_str(), nullptr, 10);
        info.created = text_at(rs, json::json_pointer("/metadata/creationTimestamp"));
        info.change_cause =
            text_at(rs, json::json_pointer("/metadata/annotations/kubernetes.io~1change-cause"));
        const json::json_pointer containers("/spec/template/spec/containers");
        if (rs.contains(containers) && rs.at(containers).is_array()) {
            for (const auto& c : rs.at(containers)) {
                if (c.is_object() && c.value("name", "") == container && c.contains("image") &&
                    c["image"].is_string()) {
                    info.image = c["image"].get<std::string>();
                }
            }
        }
        info.tag = image_tag(info.image);
        if (info.revision > 0) {
            out.push_back(std::move(info));
        }
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
        return a.revision < b.revision;
    });
    return out;
}

std::vector<core::RevisionInfo> revisions_with_sha(const std::vector<core::RevisionInfo>& history,
                                                   std::string_view sha,
                                                   std::int64_t current) {
    constexpr std::size_t kShortest = 7;
    std::vector<core::RevisionInfo> found;
    // Newest first. Not std::views::reverse: clang 14 (clang-tidy) cannot parse libstdc++ 12's
    // ranges.
    // NOLINTNEXTLINE(modernize-loop-convert)
    for (auto it = history.rbegin(); it != history.rend(); ++it) {
        const std::string_view tag = it->tag;
        const bool match =
            tag.size() >= kShortest && (tag.starts_with(sha) || sha.starts_with(tag));
        if (match && it->revision != current) {
            found.push_back(*it);
        }
    }
    return found;
}

}  // namespace rollbot::actions
