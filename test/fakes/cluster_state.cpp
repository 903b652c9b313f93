#include "test/fakes/cluster_state.hpp"

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <sys/file.h>
#include <unistd.h>

namespace rollbot::fakes {
namespace {

constexpr std::string_view kBackendRepo = "ghcr.io/your-org/preskool-backend";
constexpr std::string_view kFrontendRepo = "ghcr.io/your-org/preskool-frontend";

std::uint64_t fnv1a(std::string_view text) {
    std::uint64_t h = 1469598103934665603ULL;
    for (const char c : text) {
        h ^= static_cast<unsigned char>(c);
        h *= 1099511628211ULL;
    }
    return h;
}

Json replicaset(int revision,
                std::string_view container,
                std::string_view repo,
                std::string_view tag,
                std::chrono::minutes age) {
    const auto created = std::chrono::system_clock::now() - age;
    return Json{{"revision", revision},
                {"containers",
                 Json::array({{{"name", container},
                               {"image", std::string(repo) + ":" + std::string(tag)}}})},
                {"change_cause", "deploy " + std::string(tag)},
                {"created", iso_time(created)}};
}

Json migration(std::string_view rev,
               const Json& down,
               std::string_view doc,
               std::string_view upgrade_sql,
               std::string_view downgrade_sql) {
    return Json{{"revision", rev},
                {"down_revision", down},
                {"doc", doc},
                {"upgrade_sql", Json::array({upgrade_sql})},
                {"downgrade_sql", Json::array({downgrade_sql})}};
}

void normalize_deployment(Json& dep) {
    if (!dep.is_object()) {
        dep = Json::object();
    }
    if (!dep.contains("replicasets") || !dep["replicasets"].is_array()) {
        dep["replicasets"] = Json::array();
    }
    int index = 0;
    for (auto& rs : dep["replicasets"]) {
        ++index;
        if (!rs.contains("revision")) {
            rs["revision"] = index;
        }
        if (!rs.contains("containers")) {
            rs["containers"] = Json::array();
        }
        if (!rs.contains("hash")) {
            rs["hash"] = pod_template_hash(rs["containers"]);
        }
        if (!rs.contains("created")) {
            rs["created"] = "2025-01-01T00:00:00Z";
        }
    }
    if (!dep.contains("replicas")) {
        dep["replicas"] = 1;
    }
    if (!dep.contains("generation")) {
        dep["generation"] = std::max(1, index);
    }
    if (!dep.contains("rollout")) {
        dep["rollout"] = "complete";
    }
}

}  // namespace

Json default_scenario(std::string_view variant) {
    using std::chrono::hours;
    using std::chrono::minutes;
    Json backend{{"replicas", 2},
                 {"generation", 3},
                 {"change_cause", "deploy e4d5c6b7"},
                 {"rollout", "complete"},
                 {"replicasets",
                  Json::array({replicaset(1, "backend", kBackendRepo, "9f8e7d6c", hours(240)),
                               replicaset(2, "backend", kBackendRepo, "abc1234f", hours(72)),
                               replicaset(3, "backend", kBackendRepo, "e4d5c6b7", minutes(40))})}};
    Json frontend{{"replicas", 2},
                  {"generation", 2},
                  {"change_cause", "deploy 5e6f7a8b"},
                  {"rollout", "complete"},
                  {"replicasets",
                   Json::array({replicaset(1, "frontend", kFrontendRepo, "1a2b3c4d", hours(96)),
                                replicaset(2, "frontend", kFrontendRepo, "5e6f7a8b", hours(3))})}};
    Json migrations = Json::array(
        {migration("1975ea83b712",
                   nullptr,
                   "create students table",
                   "CREATE TABLE students (id SERIAL NOT NULL, name VARCHAR(200) NOT NULL, "
                   "PRIMARY KEY (id));",
                   "DROP TABLE students;"),
         migration("ae1027a6acf",
                   "1975ea83b712",
                   "add fees column",
                   "ALTER TABLE students ADD COLUMN fees_due NUMERIC(10, 2);",
                   "ALTER TABLE students DROP COLUMN fees_due;"),
         migration("3f2a1b4c5d6e",
                   "ae1027a6acf",
                   "create fee_payments table",
                   "CREATE TABLE fee_payments (id SERIAL NOT NULL, student_id INTEGER NOT NULL, "
                   "amount NUMERIC(10, 2) NOT NULL, PRIMARY KEY (id));",
                   "DROP TABLE fee_payments;")});
    Json bad = Json::object();
    if (variant == "incident") {
        bad["e4d5c6b7"] = "crashloop";
    }
    return Json{
        {"namespace", "preskool"},
        {"deployments", {{"backend", backend}, {"frontend", frontend}}},
        {"bad_images", bad},
        {"status_delay_ms", 0},
        {"alembic",
         {{"dialect", "postgresql"}, {"current", "3f2a1b4c5d6e"}, {"migrations", migrations}}},
        {"faults", Json::array()},
        {"calls", Json::array()},
        {"resource_version", 1}};
}

void normalize_state(Json& state) {
    const char* variant = std::getenv("FAKE_KUBECTL_SCENARIO");
    Json merged = default_scenario(variant != nullptr ? variant : "");
    if (state.is_object()) {
        for (auto& [key, value] : state.items()) {
            merged[key] = std::move(value);
        }
    }
    state = std::move(merged);
    if (!state["deployments"].is_object()) {
        state["deployments"] = Json::object();
    }
    for (auto& [name, dep] : state["deployments"].items()) {
        normalize_deployment(dep);
    }
    for (const char* key : {"faults", "calls"}) {
        if (!state[key].is_array()) {
            state[key] = Json::array();
        }
    }
    if (!state["bad_images"].is_object()) {
        state["bad_images"] = Json::object();
    }
}

StateLock::StateLock(const std::filesystem::path& state_path, bool exclusive) {
    const std::string lock_path = state_path.string() + ".lock";
    fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) {
        throw std::runtime_error("cannot open " + lock_path + ": " + std::strerror(errno));
    }
    while (::flock(fd_, exclusive ? LOCK_EX : LOCK_SH) != 0) {
        if (errno != EINTR) {
            ::close(fd_);
            throw std::runtime_error("cannot lock " + lock_path + ": " + std::strerror(errno));
        }
    }
}

StateLock::~StateLock() {
    ::close(fd_);  // releases the flock
}

Json load_state(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    if (in) {
        text << in.rdbuf();
    }
    const std::string content = text.str();
    Json state = Json::object();
    if (content.find_first_not_of(" \t\r\n") != std::string::npos) {
        state = Json::parse(content, nullptr, /*allow_exceptions=*/false);
        if (state.is_discarded() || !state.is_object()) {
            throw std::runtime_error("state file " + path.string() + " is not a JSON object");
        }
    }
    normalize_state(state);
    return state;
}

void save_state(const std::filesystem::path& path, const Json& state) {
    const std::string tmp = path.string() + ".tmp." + std::to_string(::getpid());
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out << state.dump(2) << '\n';
        if (!out.flush()) {
            throw std::runtime_error("cannot write " + tmp);
        }
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        std::remove(tmp.c_str());
        throw std::runtime_error("cannot replace " + path.string() + ": " + std::strerror(errno));
    }
}

std::string iso_time(std::chrono::system_clock::time_point t) {
    const std::time_t secs = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    std::array<char, 32> buf{};
    std::strftime(buf.data(), buf.size(), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf.data();
}

std::string now_iso() {
    return iso_time(std::chrono::system_clock::now());
}

std::string pod_template_hash(const Json& containers) {
    std::string seed;
    for (const auto& c : containers) {
        seed += c.value("name", "") + "=" + c.value("image", "") + ";";
    }
    return safe_token(seed, 10);
}

std::string image_tag(std::string_view image) {
    const auto colon = image.rfind(':');
    const auto slash = image.rfind('/');
    if (colon == std::string_view::npos || (slash != std::string_view::npos && colon < slash)) {
        return "";
    }
    return std::string(image.substr(colon + 1));
}

std::string safe_token(std::string_view seed, std::size_t length) {
    // The alphabet Kubernetes uses for generated names: no vowels, no look-alike characters.
    constexpr std::string_view kAlphabet = "bcdfghjklmnpqrstvwxz2456789";
    std::uint64_t x = fnv1a(seed) | 1U;
    std::string out;
    for (std::size_t i = 0; i < length; ++i) {
        x ^= x << 13U;
        x ^= x >> 7U;
        x ^= x << 17U;
        out += kAlphabet[x % kAlphabet.size()];
    }
    return out;
}

std::string stable_uid(std::string_view seed) {
    std::array<char, 40> buf{};
    const std::uint64_t a = fnv1a(seed);
    const std::uint64_t b = fnv1a(std::string(seed) + "#uid");
    std::snprintf(buf.data(),
                  buf.size(),
                  "%08x-%04x-4%03x-a%03x-%012llx",
                  static_cast<unsigned>(a >> 32U),
                  static_cast<unsigned>((a >> 16U) & 0xffffU),
                  static_cast<unsigned>(a & 0xfffU),
                  static_cast<unsigned>((b >> 48U) & 0xfffU),
                  static_cast<unsigned long long>(b & 0xffffffffffffULL));
    return buf.data();
}

namespace {
const Json* rs_ranked(const Json& deployment, int rank) {
    const Json* best = nullptr;
    const Json* second = nullptr;
    const auto& list = deployment.at("replicasets");
    for (const auto& rs : list) {
        const int rev = rs.value("revision", 0);
        if (best == nullptr || rev > best->value("revision", 0)) {
            second = best;
            best = &rs;
        } else if (second == nullptr || rev > second->value("revision", 0)) {
            second = &rs;
        }
    }
    return rank == 0 ? best : second;
}
}  // namespace

const Json* current_rs(const Json& deployment) {
    return rs_ranked(deployment, 0);
}

const Json* previous_rs(const Json& deployment) {
    return rs_ranked(deployment, 1);
}

int max_revision(const Json& deployment) {
    const Json* rs = current_rs(deployment);
    return rs == nullptr ? 0 : rs->value("revision", 0);
}

std::string bad_mode(const Json& state, const Json& replicaset) {
    const auto& bad = state.at("bad_images");
    for (const auto& c : replicaset.at("containers")) {
        const std::string image = c.value("image", "");
        for (const std::string& key : {image, image_tag(image)}) {
            if (!key.empty() && bad.contains(key)) {
                const std::string mode = bad[key].is_string() ? bad[key].get<std::string>() : "";
                const bool known = mode == "crashloop" || mode == "oomkilled" ||
                                   mode == "imagepull" || mode == "deadline";
                return known ? mode : "crashloop";
            }
        }
    }
    return "";
}

bool deployment_is_bad(const Json& state, std::string_view deployment) {
    const auto& deps = state.at("deployments");
    const auto it = deps.find(std::string(deployment));
    if (it == deps.end()) {
        return false;
    }
    const Json* rs = current_rs(*it);
    return rs != nullptr && !bad_mode(state, *rs).empty();
}

}  // namespace rollbot::fakes
