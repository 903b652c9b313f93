#include "test/support/pg_server.hpp"

#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/wait.h>
#include <system_error>
#include <unistd.h>
#include <vector>

namespace rollbot::test {
namespace {

namespace fs = std::filesystem;

constexpr int kPort = 5432;  // only names the socket file: listen_addresses is empty

// The newest /usr/lib/postgresql/<major>/bin with initdb in it (ROLLBOT_PG_BINDIR overrides).
std::string find_bindir() {
    if (const char* dir = std::getenv("ROLLBOT_PG_BINDIR"); dir != nullptr && *dir != '\0') {
        return dir;
    }
    std::string best;
    int best_major = -1;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
        const auto name = entry.path().filename().string();
        const int major = std::atoi(name.c_str());
        if (major > best_major && fs::exists(entry.path() / "bin" / "initdb", ec)) {
            best_major = major;
            best = (entry.path() / "bin").string();
        }
    }
    return best;
}

std::string quoted(const std::string& s) {
    std::string out = "'";
    for (char c : s) {
        out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    }
    return out + "'";
}

std::string tail(const fs::path& file) {
    std::ifstream in(file);
    std::stringstream s;
    s << in.rdbuf();
    auto text = s.str();
    return text.size() > 2000 ? text.substr(text.size() - 2000) : text;
}

}  // namespace

bool PgServer::run(const std::string& name, const std::string& command, std::string& why) const {
    const auto log = dir_.file(name + ".log");
    // As root, the server's own programs run as nobody; clients (createdb) need no switch.
    const bool as_nobody = ::geteuid() == 0 && name != "createdb";
    const auto line = fmt::format("{}{} >{} 2>&1 </dev/null",
                                  as_nobody ? "/usr/sbin/runuser -u nobody -- " : "",
                                  command,
                                  quoted(log.string()));
    const int status = std::system(line.c_str());  // NOLINT(cert-env33-c): test set-up
    if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        why = fmt::format("{} failed (status {}): {}", name, status, tail(log));
        return false;
    }
    return true;
}

std::unique_ptr<PgServer> PgServer::start(std::string& why) {
    std::unique_ptr<PgServer> s(new PgServer());
    s->bin_ = find_bindir();
    if (s->bin_.empty()) {
        why = "no PostgreSQL server under /usr/lib/postgresql (deploy/dev.sh installs postgresql)";
        return nullptr;
    }
    const auto root = s->dir_.path();
    if (::geteuid() == 0) {
        std::error_code ec;
        fs::permissions(
            root, fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec, ec);
        if (::chown(root.c_str(), 65534, 65534) != 0) {  // nobody:nogroup
            why = "cannot hand the cluster directory to nobody";
            return nullptr;
        }
    }
    const auto data = (root / "data").string();
    if (!s->run("initdb",
                fmt::format("{}/initdb -D {} -U rollbot -A trust -E UTF8 --no-sync --locale=C",
                            s->bin_,
                            quoted(data)),
                why)) {
        return nullptr;
    }
    // Tests want a quick server, not a durable one; no TCP listener at all.
    std::ofstream conf(root / "data" / "postgresql.conf", std::ios::app);
    conf << "listen_addresses = ''\n"
         << "unix_socket_directories = '" << root.string() << "'\n"
         << "port = " << kPort << "\n"
         << "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
         << "max_connections = 100\nshared_buffers = 32MB\n";
    conf.close();
    if (!conf) {
        why = "cannot write postgresql.conf";
        return nullptr;
    }
    if (!s->restart(why)) {
        return nullptr;
    }
    return s;
}

PgServer::~PgServer() {
    if (running_) {
        std::string ignored;
        run("pg_ctl-stop",
            fmt::format("{}/pg_ctl -D {} stop -m immediate -w", bin_, quoted(dir_.file("data"))),
            ignored);
    }
}

bool PgServer::stop(std::string& why) {
    if (!run("pg_ctl-stop",
             fmt::format("{}/pg_ctl -D {} stop -m fast -w", bin_, quoted(dir_.file("data"))),
             why)) {
        return false;
    }
    running_ = false;
    return true;
}

bool PgServer::restart(std::string& why) {
    const auto data = dir_.file("data").string();
    if (!run("pg_ctl-start",
             fmt::format("{}/pg_ctl -D {} -l {} start -w -t 60",
                         bin_,
                         quoted(data),
                         quoted(dir_.file("server.log").string())),
             why)) {
        return false;
    }
    running_ = true;
    return true;
}

std::string PgServer::fresh_database(std::string& why) {
    const auto name = fmt::format("t{}", ++databases_);
    if (!run("createdb",
             fmt::format("{}/createdb -h {} -p {} -U rollbot -T template0 {}",
                         bin_,
                         quoted(socket_dir()),
                         kPort,
                         name),
             why)) {
        return "";
    }
    return name;
}

std::string PgServer::socket_dir() const {
    return dir_.path().string();
}

std::string PgServer::conninfo(const std::string& db) const {
    return fmt::format("host={} port={} user=rollbot dbname={}", socket_dir(), kPort, db);
}

std::string PgServer::uri(const std::string& db) const {
    // A Unix socket directory goes in the host parameter (percent-encoding '/' in the authority
    // part is the other way); libpq accepts both.
    return fmt::format("postgresql://rollbot@/{}?host={}&port={}", db, socket_dir(), kPort);
}

std::string PgServer::uri_with_password(const std::string& db, const std::string& password) const {
    return fmt::format(
        "postgresql://rollbot:{}@/{}?host={}&port={}", password, db, socket_dir(), kPort);
}

PgServer* shared_pg_server(std::string& why) {
    static std::string failure;
    static std::unique_ptr<PgServer> server = PgServer::start(failure);
    why = failure;
    return server.get();
}

}  // namespace rollbot::test
