// pg::Rows: the text-format answer of one statement.

#include "bot/store/pg_connection.hpp"

#include <charconv>
#include <cstring>
#include <libpq-fe.h>

namespace rollbot::store::pg {

// --- Rows -------------------------------------------------------------------------------------

void Rows::Clear::operator()(pg_result* r) const {
    PQclear(r);
}

Rows::Rows(pg_result* result) : result_(result) {}

int Rows::size() const {
    return result_ ? PQntuples(result_.get()) : 0;
}

std::int64_t Rows::affected() const {
    if (!result_) {
        return 0;
    }
    const char* n = PQcmdTuples(result_.get());
    std::int64_t out = 0;
    std::from_chars(n, n + std::strlen(n), out);
    return out;
}

bool Rows::is_null(int row, int column) const {
    ROLLBOT_CHECK(row < size() && column < PQnfields(result_.get()), "pg: no such row or column");
    return PQgetisnull(result_.get(), row, column) == 1;
}

std::string Rows::text(int row, int column) const {
    ROLLBOT_CHECK(row < size() && column < PQnfields(result_.get()), "pg: no such row or column");
    return {PQgetvalue(result_.get(), row, column),
            static_cast<std::size_t>(PQgetlength(result_.get(), row, column))};
}

std::int64_t Rows::integer(int row, int column) const {
    const std::string value = text(row, column);
    std::int64_t out = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
    ROLLBOT_CHECK(ec == std::errc{} && end == value.data() + value.size(),
                  "pg: a column read as an integer is not one");
    return out;
}

std::optional<std::string> Rows::opt_text(int row, int column) const {
    if (is_null(row, column)) {
        return std::nullopt;
    }
    return text(row, column);
}

std::optional<std::int64_t> Rows::opt_integer(int row, int column) const {
    if (is_null(row, column)) {
        return std::nullopt;
    }
    return integer(row, column);
}

}  // namespace rollbot::store::pg
