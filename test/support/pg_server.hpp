#pragma once

// A throw-away PostgreSQL server for tests: Debian's postgresql binaries, a cluster made by
// initdb in a temporary directory, listening only on a Unix socket in that directory (no TCP
// port at all), stopped and removed at the end. PostgreSQL refuses to run as root and CI runs
// as root, so as root the server runs as `nobody` (runuser).

#include "test/support/temp_dir.hpp"

#include <memory>
#include <string>

namespace rollbot::test {

class PgServer {
public:
    /// Starts a new cluster (a few seconds: initdb, then pg_ctl start -w, which waits until the
    /// server accepts connections). nullptr with `why` set when it cannot.
    [[nodiscard]] static std::unique_ptr<PgServer> start(std::string& why);
    ~PgServer();  // stops the server (immediate) and removes the cluster
    PgServer(const PgServer&) = delete;
    PgServer& operator=(const PgServer&) = delete;

    /// A new, empty database; "" with `why` set when createdb fails.
    [[nodiscard]] std::string fresh_database(std::string& why);
    /// libpq key=value conninfo for `db` (user rollbot, trust authentication).
    [[nodiscard]] std::string conninfo(const std::string& db) const;
    /// The same as a postgresql:// URI, the form of the `state.url` key.
    [[nodiscard]] std::string uri(const std::string& db) const;
    /// The URI with a password in it (trust authentication ignores it), to prove it never
    /// reaches a message or a log.
    [[nodiscard]] std::string uri_with_password(const std::string& db,
                                                const std::string& password) const;
    [[nodiscard]] std::string socket_dir() const;

    /// pg_ctl stop -m fast: clients are disconnected, the data stays. false with `why` set.
    bool stop(std::string& why);
    /// Starts the stopped server again on the same socket and data.
    bool restart(std::string& why);

private:
    PgServer() = default;
    bool run(const std::string& name, const std::string& command, std::string& why) const;

    TempDir dir_;
    std::string bin_;
    int databases_ = 0;
    bool running_ = false;
};

/// One server for the whole test program, started on first use (a test asks for a
/// fresh_database() of its own). nullptr with `why` set when it cannot start.
[[nodiscard]] PgServer* shared_pg_server(std::string& why);

}  // namespace rollbot::test
