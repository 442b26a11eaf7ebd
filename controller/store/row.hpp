#pragma once
// Private to store/: field conversions. Timestamps travel as epoch seconds (float8) both ways
// (`extract(epoch from t)` out, `to_timestamp($n)` in) so no time-zone text is ever parsed.
#include <nlohmann/json.hpp>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.hpp"
#include "controller/store/migration_status.hpp"

namespace ferry::controller::store {

std::optional<std::string> OptString(const pqxx::field& f);
std::optional<int64_t> OptInt(const pqxx::field& f);
TimePoint ToTime(const pqxx::field& f);
std::optional<TimePoint> OptTime(const pqxx::field& f);
nlohmann::json ToJson(const pqxx::field& f);
double EpochSeconds(TimePoint t);
// Throws kInternal: "unknown <column> <value>".
[[noreturn]] void ThrowUnknown(const char* column, const std::string& value);

// A time as a nullable epoch parameter (to_timestamp($n) of NULL is NULL).
std::optional<double> OptEpoch(const std::optional<TimePoint>& t);

// A nullable text column read into an enum by `parse`; an unknown value throws kInternal naming
// the column (a record this build cannot drive).
template <typename E>
std::optional<E> ParseOptional(const pqxx::field& f, std::optional<E> (*parse)(std::string_view),
                               const char* column) {
  if (f.is_null()) return std::nullopt;
  auto v = parse(f.as<std::string>());
  if (!v) ThrowUnknown(column, f.as<std::string>());
  return v;
}

// migrations.status. An unknown value is a record this build cannot drive: the step that reads
// it throws, and the move engine's retry budget ends the move.
MigrationStatus StatusFrom(const pqxx::field& f);
// A PostgreSQL text[] literal, every element quoted and escaped (elements may be user text);
// passed as one parameter and cast with $n::text[]. nullopt stays NULL ("no filter").
std::string PgTextArray(const std::vector<std::string>& v);
std::optional<std::string> PgTextArray(const std::optional<std::vector<std::string>>& v);

}  // namespace ferry::controller::store
