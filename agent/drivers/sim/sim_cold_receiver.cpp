#include "agent/drivers/sim/sim_cold_receiver.hpp"

#include <spdlog/spdlog.h>

#include <chrono>

#include "common/errors.hpp"

namespace ferry::agent::sim {
namespace {

using nlohmann::json;

// 100 ms: how long accept/receive block before checking for shutdown; bounds Stop() latency.
constexpr int kPollMs = 100;
// 30 s without a frame: the source sends a chunk every 100 ms, so a silent peer is gone (a
// crashed host sends no FIN) and must not keep the one connection this listener serves.
constexpr std::chrono::seconds kIdleTimeout{30};
// Disk names and counts as the command decoder bounds them (agent/commands.cpp).
constexpr size_t kMaxDisks = 256;
constexpr size_t kMaxTargetChars = 32;
constexpr size_t kMaxTokenChars = 512;
constexpr size_t kDigestChars = 64;  // SHA-256 in hex

std::string StringField(const json& frame, const char* key, size_t max_chars) {
  auto it = frame.find(key);
  if (it == frame.end() || !it->is_string() ||
      it->get_ref<const std::string&>().size() > max_chars) {
    throw Error(Errc::kBadRequest, std::string("frame field '") + key + "' is missing or too long");
  }
  return it->get<std::string>();
}

int64_t IntField(const json& frame, const char* key) {
  auto it = frame.find(key);
  if (it == frame.end() || !it->is_number_integer() || it->get<int64_t>() < 0) {
    throw Error(Errc::kBadRequest,
                std::string("frame field '") + key + "' must be an integer >= 0");
  }
  return it->get<int64_t>();
}

std::vector<ColdDisk> DisksField(const json& frame) {
  auto it = frame.find("disks");
  if (it == frame.end() || !it->is_array() || it->size() > kMaxDisks) {
    throw Error(Errc::kBadRequest, "frame field 'disks' must be a list of at most 256");
  }
  std::vector<ColdDisk> disks;
  for (const auto& d : *it) {
    if (!d.is_object()) throw Error(Errc::kBadRequest, "a disk must be an object");
    disks.push_back({StringField(d, "target", kMaxTargetChars), IntField(d, "bytes")});
  }
  return disks;
}

}  // namespace

ColdReceiver::ColdReceiver(std::string migration_uuid, const std::string& address, int port,
                           ColdReceiveHooks hooks)
    : migration_uuid_(std::move(migration_uuid)),
      hooks_(std::move(hooks)),
      listener_(address, port) {
  thread_ = std::thread([this] { Run(); });
  spdlog::info("ferry-sim: receiving cold migration disks migration={} uri={}", migration_uuid_,
               Uri());
}

ColdReceiver::~ColdReceiver() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void ColdReceiver::Run() {
  while (!stop_) {
    auto conn = listener_.Accept(kPollMs);
    if (!conn) continue;
    try {
      Serve(*conn);
    } catch (const std::exception& e) {
      // The source is gone or spoke nonsense: what arrived is kept, and a resumed copy
      // continues from it.
      spdlog::warn("ferry-sim: cold migration link ended migration={} error=\"{}\"",
                   migration_uuid_, e.what());
    }
  }
}

void ColdReceiver::Serve(LinkConnection& conn) {
  bool greeted = false;
  auto last_frame = std::chrono::steady_clock::now();
  while (!stop_) {
    auto frame = conn.Receive(kPollMs);
    if (!frame) {
      if (std::chrono::steady_clock::now() - last_frame > kIdleTimeout) {
        throw Error(Errc::kUnavailable, "the source sent nothing for 30 s");
      }
      continue;
    }
    last_frame = std::chrono::steady_clock::now();
    if (!frame->is_object()) return;
    const std::string type = frame->value("type", "");
    if (type == "cancel") {
      spdlog::info("ferry-sim: source cancelled the cold copy migration={}", migration_uuid_);
      return;
    }
    try {
      ServeFrame(conn, *frame, greeted);
    } catch (const Error& e) {
      conn.Send(json{{"type", "refuse"}, {"error", e.what()}});
      spdlog::warn("ferry-sim: refused cold migration frame migration={} type={} error=\"{}\"",
                   migration_uuid_, type, e.what());
      return;
    }
    if (type == "done") return;
  }
}

void ColdReceiver::ServeFrame(LinkConnection& conn, const json& frame, bool& greeted) {
  const std::string type = frame.value("type", "");
  if (type == "cold-hello") {
    if (StringField(frame, "migration_uuid", 64) != migration_uuid_) {
      throw Error(Errc::kConflict, "this listener receives migration " + migration_uuid_);
    }
    const std::string token = StringField(frame, "token", kMaxTokenChars);
    const std::vector<ColdDisk> disks = DisksField(frame);
    const std::vector<int64_t> have = hooks_.on_hello(token, disks);
    json received = json::object();
    for (size_t i = 0; i < disks.size(); ++i) received[disks[i].target] = have.at(i);
    conn.Send(json{{"type", "cold-offsets"}, {"received", received}});
    greeted = true;
    return;
  }
  if (!greeted) throw Error(Errc::kUnauthorized, "no cold-hello with the transfer token");
  if (type == "chunk") {
    hooks_.on_chunk(StringField(frame, "disk", kMaxTargetChars), IntField(frame, "offset"),
                    IntField(frame, "length"), IntField(frame, "generation"));
  } else if (type == "done") {
    const std::string digest = StringField(frame, "digest", kDigestChars);
    if (digest.size() != kDigestChars) throw Error(Errc::kBadRequest, "digest is not SHA-256");
    hooks_.on_done(digest);
    conn.Send(json{{"type", "ack"}});
  } else {
    throw Error(Errc::kBadRequest, "unexpected frame '" + type + "'");
  }
}

}  // namespace ferry::agent::sim
