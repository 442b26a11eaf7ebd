#include "controller/store/progress_store.hpp"

#include <spdlog/spdlog.h>

#include <cctype>
#include <charconv>

#include "common/errors.hpp"
#include "controller/store/status_lists.hpp"
#include "controller/store/tx.hpp"

namespace ferry::controller::store {
namespace {

// Progress: one statement for the whole batch. A batch may hold several reports of one
// migration from one host (an agent that posted again before the previous write ended):
// UPDATE ... FROM would apply an unpredictable one of them, so r keeps only the newest per
// (uuid, host) — the latest sampled, and of equal samples the one that arrived last
// (ordinality is arrival order). The ETA is smoothed: while the guest converges (a new low of
// memory remaining) it may only fall; otherwise it follows the raw estimate.
constexpr Statement kApplyProgress{"lm_apply_progress", R"sql(
WITH r AS (
  SELECT DISTINCT ON (uuid, host) * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::int8[],
         $5::int8[], $6::int8[], $7::int8[], $8::int8[], $9::int8[], $10::int8[], $11::int8[],
         $12::int8[], $13::int8[], $14::int8[], $15::text[], $16::float8[], $17::text[])
    WITH ORDINALITY
    AS r(host, uuid, state, memory_total, memory_processed, memory_remaining, disk_total,
         disk_processed, disk_remaining, transfer_rate_bps, dirty_rate_bps, downtime_ms,
         iteration, throttle_percent, error, sampled_at, phase, arrival)
  ORDER BY uuid, host, sampled_at DESC, arrival DESC
), u AS (
  UPDATE migrations m SET
    job_state = r.state, job_error = nullif(r.error, ''),
    memory_total = r.memory_total, memory_processed = r.memory_processed,
    memory_remaining = r.memory_remaining, disk_total = r.disk_total,
    disk_processed = r.disk_processed, disk_remaining = r.disk_remaining,
    transfer_rate_bps = r.transfer_rate_bps, dirty_rate_bps = r.dirty_rate_bps,
    downtime_ms = r.downtime_ms, iteration = r.iteration, throttle_percent = r.throttle_percent,
    job_phase = CASE WHEN r.phase = '' THEN m.job_phase ELSE r.phase END,
    -- Receive time on PostgreSQL's clock for timeouts; the agent's sample time for order and
    -- display only (0: a report the controller made, which keeps the last sample time).
    progress_at = now(),
    sampled_at = CASE WHEN r.sampled_at > 0 THEN to_timestamp(r.sampled_at) ELSE m.sampled_at END,
    lowest_remaining = least(m.lowest_remaining, r.memory_remaining + r.disk_remaining),
    lowest_remaining_at = CASE
        WHEN m.lowest_remaining IS NULL OR r.memory_remaining + r.disk_remaining < m.lowest_remaining
        THEN now() ELSE m.lowest_remaining_at END,
    eta_seconds = CASE
        WHEN r.state <> 'running' THEN 0
        WHEN r.transfer_rate_bps <= 0 THEN m.eta_seconds
        WHEN m.lowest_remaining IS NOT NULL AND m.eta_seconds IS NOT NULL
             AND r.memory_remaining + r.disk_remaining < m.lowest_remaining
        THEN least(m.eta_seconds, ceil((r.memory_remaining + r.disk_remaining)::float8 / r.transfer_rate_bps))::int
        -- Clamped to int: a stalled copy (a few bytes/s) must not fail the batch it shares.
        ELSE least(ceil((r.memory_remaining + r.disk_remaining)::float8 / r.transfer_rate_bps), 2147483647)::int END
  -- updated_at is left alone: it is indexed (changes-since), and an update that changes no
  -- indexed column is a HOT update (no index writes), several times cheaper at a report every
  -- few seconds per migration. progress_at says when the numbers arrived.
  FROM r
  WHERE m.uuid = r.uuid AND m.source_compute = r.host AND m.status IN )sql" FERRY_SQL_JOB_STATUSES
                                                        R"sql(
    AND (r.sampled_at <= 0 OR m.sampled_at IS NULL OR m.sampled_at <= to_timestamp(r.sampled_at))
    AND m.job_state IS DISTINCT FROM 'completed' AND m.job_state IS DISTINCT FROM 'failed'
    AND m.job_state IS DISTINCT FROM 'cancelled'
  RETURNING m.uuid, m.job_state, m.migration_type, m.instance_uuid, m.memory_total,
            m.memory_remaining, m.disk_total, m.disk_remaining
), p AS (
  -- A live migration's percentage is Nova's (memory); a cold move's copy has only disks.
  SELECT instance_uuid, CASE
      WHEN memory_total > 0
      THEN greatest(0, least(100, 100 - (memory_remaining * 100 / memory_total)))::int
      WHEN disk_total > 0
      THEN greatest(0, least(100, 100 - (disk_remaining * 100 / disk_total)))::int
      ELSE 0 END AS progress
  FROM u
), s AS (
  -- Most reports move the percentage by less than a point: skip writes that change nothing.
  UPDATE servers s SET progress = p.progress
  FROM p WHERE s.uuid = p.instance_uuid AND s.progress IS DISTINCT FROM p.progress
)
-- One row per migration updated: the ingest wakes the engine only for jobs that ended here.
SELECT uuid::text, job_state, migration_type FROM u)sql"};

// Array elements. Text is always quoted and escaped (it comes from agents); numbers are
// written with to_chars (no locale, shortest exact form for doubles).
void Sep(std::string& col) {
  if (!col.empty()) col += ',';
}
void AddText(std::string& col, const std::string& s) {
  Sep(col);
  col += '"';
  for (char c : s) {
    if (c == '"' || c == '\\') col += '\\';
    col += c;
  }
  col += '"';
}
template <typename Number>
void AddNumber(std::string& col, Number v) {
  Sep(col);
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  col.append(buf, end);
}

}  // namespace

ProgressRows::ProgressRows() {
  // A post is at most a few reports of ~20 characters per column; avoids regrowth.
  for (auto& c : cols_) c.reserve(64);
}

void ProgressRows::Add(const std::string& host, const wire::LiveMigrationJob& j) {
  size_t i = 0;
  AddText(cols_[i++], host);
  AddText(cols_[i++], j.migration_uuid);
  AddText(cols_[i++], j.state);
  for (int64_t v : {j.memory_total, j.memory_processed, j.memory_remaining, j.disk_total,
                    j.disk_processed, j.disk_remaining, j.transfer_rate_bps, j.dirty_rate_bps,
                    j.downtime_ms, int64_t{j.iteration}, int64_t{j.throttle_percent}}) {
    AddNumber(cols_[i++], v);
  }
  AddText(cols_[i++], j.error);
  AddNumber(cols_[i++], j.sampled_at);
  AddText(cols_[i++], j.phase);
  ++rows_;
}

void ProgressRows::Append(const ProgressRows& other) {
  if (other.empty()) return;
  for (size_t i = 0; i < kColumns; ++i) {
    Sep(cols_[i]);
    cols_[i] += other.cols_[i];
  }
  rows_ += other.rows_;
}

void ProgressRows::clear() {
  for (auto& c : cols_) c.clear();
  rows_ = 0;
}

std::array<std::string, ProgressRows::kColumns> ProgressRows::Literals() const {
  std::array<std::string, kColumns> out;
  for (size_t i = 0; i < kColumns; ++i) {
    out[i].reserve(cols_[i].size() + 2);
    out[i] += '{';
    out[i] += cols_[i];
    out[i] += '}';
  }
  return out;
}

bool HasControlCharacters(const std::string& s, bool allow_line_breaks) {
  for (unsigned char c : s) {
    if (allow_line_breaks && (c == '\n' || c == '\r' || c == '\t')) continue;
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

bool IsUuidText(const std::string& s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

namespace {

template <typename Exec>
int ExecApply(const ProgressRows& rows, std::vector<MoveRef>* ended, Exec&& exec) {
  if (rows.empty()) return 0;
  const auto l = rows.Literals();
  const pqxx::result res = exec(l);
  if (ended) {
    for (const auto& row : res) {
      if (row[1].as<std::string>() != "running") {
        ended->push_back({row[2].as<std::string>(), row[0].as<std::string>()});
      }
    }
  }
  return static_cast<int>(res.size());
}

}  // namespace

int ApplyProgressRows(Tx& tx, const ProgressRows& rows) {
  return ExecApply(rows, nullptr, [&](const auto& l) {
    return tx.Exec(kApplyProgress, l[0], l[1], l[2], l[3], l[4], l[5], l[6], l[7], l[8], l[9],
                   l[10], l[11], l[12], l[13], l[14], l[15], l[16]);
  });
}

ProgressWriter::ProgressWriter(std::string dsn) : dsn_(std::move(dsn)) {}
ProgressWriter::~ProgressWriter() = default;

int ProgressWriter::Write(const ProgressRows& rows, std::vector<MoveRef>* ended) {
  try {
    if (!conn_) {
      conn_ = std::make_unique<PooledConnection>(dsn_);
      conn_->conn.prepare(kApplyProgress.name, kApplyProgress.sql);
    }
    return ExecApply(rows, ended, [&](const auto& l) {
      pqxx::nontransaction n(conn_->conn);  // no BEGIN/COMMIT: the statement commits itself
      return n.exec_prepared(kApplyProgress.name, l[0], l[1], l[2], l[3], l[4], l[5], l[6], l[7],
                             l[8], l[9], l[10], l[11], l[12], l[13], l[14], l[15], l[16]);
    });
  } catch (const std::exception& e) {
    // Whatever failed (connection lost, server restart, a statement error), the next batch
    // starts from a fresh connection rather than diagnose this one.
    conn_.reset();
    spdlog::warn("progress write failed: {}", e.what());
    throw Error(Errc::kUnavailable, std::string("progress write failed: ") + e.what());
  }
}

}  // namespace ferry::controller::store
