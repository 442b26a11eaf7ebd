#include "agent/disk_transfer/transfer_protocol.hpp"

#include <nlohmann/json.hpp>

#include "common/errors.hpp"
#include "common/json_limits.hpp"
#include "common/uuid.hpp"

namespace ferry::agent::transfer {
namespace {

using nlohmann::json;

// 4 levels: the deepest message is {"disks": [{...}]} (3); one spare.
constexpr int kMaxDepth = 4;
// 1 KiB: the move's token is 43 characters (32 random bytes, base64url); allow other generators.
constexpr size_t kMaxTokenBytes = 1024;

json ParseObject(std::string_view payload, const char* what) {
  json j = ParseBoundedJsonOrDiscarded(payload, kMaxDepth);
  if (!j.is_object()) ProtocolError(std::string(what) + " is not a JSON object");
  return j;
}

const json& Field(const json& j, const char* name, const char* what) {
  auto it = j.find(name);
  if (it == j.end()) ProtocolError(std::string(what) + " has no '" + name + "'");
  return *it;
}

const json& ArrayField(const json& j, const char* name, const char* what) {
  const json& a = Field(j, name, what);
  if (!a.is_array() || a.size() > kMaxDisksPerHello) {
    ProtocolError(std::string(what) + ": '" + name + "' is not an array of at most 64");
  }
  return a;
}

std::string StringField(const json& j, const char* name, const char* what) {
  const json& s = Field(j, name, what);
  if (!s.is_string()) ProtocolError(std::string(what) + ": '" + name + "' is not a string");
  return s.get<std::string>();
}

int64_t ByteCount(const json& v, const char* what) {
  if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > kMaxDiskBytes) {
    ProtocolError(std::string(what) + ": a byte count is not an integer in [0, 64 TiB]");
  }
  return v.get<int64_t>();
}

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace

void ProtocolError(const std::string& what) {
  throw Error(Errc::kBadRequest, "protocol error: " + what);
}

void EncodeHeader(FrameType type, uint32_t length, char* out) {
  out[0] = static_cast<char>(type);
  for (int i = 0; i < 4; ++i) out[1 + i] = static_cast<char>((length >> (24 - 8 * i)) & 0xff);
}

FrameHeader DecodeHeader(const char* in) {
  const auto* u = reinterpret_cast<const unsigned char*>(in);
  FrameHeader h;
  h.length = (uint32_t{u[1]} << 24) | (uint32_t{u[2]} << 16) | (uint32_t{u[3]} << 8) | u[4];
  uint32_t min = 0;
  uint32_t max = kMaxControlPayload;
  switch (u[0]) {
    case static_cast<uint8_t>(FrameType::kData):
      min = 1;
      max = kMaxDataPayload;
      break;
    case static_cast<uint8_t>(FrameType::kHole):
      min = max = 8;
      break;
    case static_cast<uint8_t>(FrameType::kAck):
    case static_cast<uint8_t>(FrameType::kAlive):
      max = 0;
      break;
    case static_cast<uint8_t>(FrameType::kHello):
    case static_cast<uint8_t>(FrameType::kOffsets):
    case static_cast<uint8_t>(FrameType::kDone):
    case static_cast<uint8_t>(FrameType::kRefuse):
      break;
    default:
      ProtocolError("unknown frame type " + std::to_string(u[0]));
  }
  if (h.length < min || h.length > max) {
    ProtocolError("frame type " + std::to_string(u[0]) + " with length " +
                  std::to_string(h.length));
  }
  h.type = static_cast<FrameType>(u[0]);
  return h;
}

bool IsDiskTarget(const std::string& s) {
  size_t letters = 0;
  while (letters < s.size() && s[letters] >= 'a' && s[letters] <= 'z') ++letters;
  size_t digits = 0;
  while (letters + digits < s.size() && s[letters + digits] >= '0' && s[letters + digits] <= '9') {
    ++digits;
  }
  return letters >= 1 && letters <= 8 && digits <= 3 && letters + digits == s.size();
}

bool IsSha256Hex(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string EncodeHello(const Hello& hello) {
  json disks = json::array();
  for (const HelloDisk& d : hello.disks)
    disks.push_back({{"target", d.target}, {"bytes", d.bytes}});
  return Dump({{"migration_uuid", hello.migration_uuid},
               {"token", hello.token},
               {"disks", disks},
               {"manifest", hello.manifest}});
}

Hello DecodeHello(std::string_view payload) {
  const char* what = "hello";
  const json j = ParseObject(payload, what);
  Hello h;
  h.migration_uuid = StringField(j, "migration_uuid", what);
  if (!IsUuid(h.migration_uuid)) ProtocolError("hello: migration_uuid is not a uuid");
  h.token = StringField(j, "token", what);
  if (h.token.empty() || h.token.size() > kMaxTokenBytes) ProtocolError("hello: bad token size");
  for (const json& d : ArrayField(j, "disks", what)) {
    if (!d.is_object()) ProtocolError("hello: a disk is not an object");
    HelloDisk disk{StringField(d, "target", what), ByteCount(Field(d, "bytes", what), what)};
    if (!IsDiskTarget(disk.target)) ProtocolError("hello: a disk target is not a device name");
    h.disks.push_back(std::move(disk));
  }
  if (j.contains("manifest")) {
    h.manifest = StringField(j, "manifest", what);
    if (h.manifest.size() > kMaxManifestBytes) ProtocolError("hello: manifest too large");
  }
  return h;
}

std::string EncodeOffsets(const std::vector<int64_t>& received) {
  return Dump({{"received", received}});
}

std::vector<int64_t> DecodeOffsets(std::string_view payload) {
  const json j = ParseObject(payload, "offsets");
  std::vector<int64_t> out;
  for (const json& v : ArrayField(j, "received", "offsets")) out.push_back(ByteCount(v, "offsets"));
  return out;
}

std::string EncodeDone(const std::vector<std::string>& sha256) {
  return Dump({{"sha256", sha256}});
}

std::vector<std::string> DecodeDone(std::string_view payload) {
  const json j = ParseObject(payload, "done");
  std::vector<std::string> out;
  for (const json& v : ArrayField(j, "sha256", "done")) {
    if (!v.is_string() || !IsSha256Hex(v.get<std::string>())) {
      ProtocolError("done: a digest is not 64 lowercase hex digits");
    }
    out.push_back(v.get<std::string>());
  }
  return out;
}

std::string EncodeRefuse(const std::string& error) {
  return Dump({{"error", Utf8Prefix(error, kMaxRefuseText)}});
}

std::string DecodeRefuse(std::string_view payload) {
  const json j = ParseObject(payload, "refuse");
  return Utf8Prefix(StringField(j, "error", "refuse"), kMaxRefuseText);
}

std::array<char, 8> EncodeHole(int64_t length) {
  std::array<char, 8> out{};
  const auto u = static_cast<uint64_t>(length);
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((u >> (56 - 8 * i)) & 0xff);
  return out;
}

int64_t DecodeHole(std::string_view payload) {
  if (payload.size() != 8) ProtocolError("hole: payload is not 8 bytes");
  uint64_t u = 0;
  for (char c : payload) u = (u << 8) | static_cast<unsigned char>(c);
  if (u == 0 || u > static_cast<uint64_t>(kMaxDiskBytes)) ProtocolError("hole: bad length");
  return static_cast<int64_t>(u);
}

void WriteFrame(TlsStream& stream, FrameType type, std::string_view payload, Deadline deadline) {
  std::string frame(kFrameHeaderBytes, '\0');
  EncodeHeader(type, static_cast<uint32_t>(payload.size()), frame.data());
  frame.append(payload);
  stream.WriteAll(frame.data(), frame.size(), deadline);
}

FrameHeader ReadFrame(TlsStream& stream, std::string* payload, Deadline deadline) {
  char header[kFrameHeaderBytes];
  stream.ReadExact(header, sizeof header, deadline);
  const FrameHeader h = DecodeHeader(header);
  if (h.type == FrameType::kData) ProtocolError("a data frame where a control frame belongs");
  payload->resize(h.length);
  stream.ReadExact(payload->data(), h.length, deadline);
  return h;
}

}  // namespace ferry::agent::transfer
