#include "common/json_limits.hpp"

#include <utility>
#include <vector>

namespace ferry {
namespace {

using nlohmann::json;

bool OpensContainer(json::parse_event_t event) {
  return event == json::parse_event_t::object_start || event == json::parse_event_t::array_start;
}

// A scalar's JSON text; strings are cut before they are escaped, so a 1 MB string costs only
// what is printed. Invalid UTF-8 cannot come from the parser but may come from code: replaced.
std::string ScalarText(const json& v, std::size_t budget) {
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    if (s.size() > budget)
      return json(Utf8Prefix(s, budget)).dump(-1, ' ', false, json::error_handler_t::replace);
  }
  return v.dump(-1, ' ', false, json::error_handler_t::replace);
}

// Walks `v` depth-first with an explicit stack, appending tokens until `max_chars` is reached.
class BoundedWriter {
 public:
  explicit BoundedWriter(std::size_t max_chars) : max_(max_chars) {}

  std::string Write(const json& root) {
    Visit(root);
    while (!stack_.empty() && !Full()) {
      Frame& f = stack_.back();
      if (f.next == f.end) {
        out_ += f.is_object ? '}' : ']';
        stack_.pop_back();
        continue;
      }
      if (f.next != f.begin) out_ += ',';
      if (f.is_object) out_ += ScalarText(json(f.next.key()), Budget()) + ':';
      const json& child = *f.next;
      ++f.next;
      Visit(child);
    }
    if (!Full()) return out_;
    return Utf8Prefix(out_, max_) + "...";
  }

 private:
  struct Frame {
    json::const_iterator begin, next, end;
    bool is_object;
  };

  bool Full() const { return out_.size() > max_; }
  std::size_t Budget() const { return max_ + 1 - std::min(out_.size(), max_); }

  void Visit(const json& v) {
    if (v.is_object() || v.is_array()) {
      out_ += v.is_object() ? '{' : '[';
      stack_.push_back({v.cbegin(), v.cbegin(), v.cend(), v.is_object()});
    } else {
      out_ += ScalarText(v, Budget());
    }
  }

  std::size_t max_;
  std::string out_;
  std::vector<Frame> stack_;
};

}  // namespace

nlohmann::json ParseBoundedJson(std::string_view text, int max_depth) {
  // The callback sees the number of enclosing containers; a container opening at depth d is
  // level d + 1. Throwing stops the parse at once (nothing deeper is read or built).
  auto limit = [max_depth](int depth, json::parse_event_t event, json&) {
    if (OpensContainer(event) && depth >= max_depth) {
      throw json::parse_error::create(
          101, 0, "JSON nested deeper than " + std::to_string(max_depth) + " levels", nullptr);
    }
    return true;
  };
  return json::parse(text.begin(), text.end(), limit);
}

nlohmann::json ParseBoundedJsonOrDiscarded(std::string_view text, int max_depth) {
  try {
    return ParseBoundedJson(text, max_depth);
  } catch (const json::parse_error&) {
    return json(json::value_t::discarded);
  }
}

std::string BoundedDump(const nlohmann::json& v, std::size_t max_chars) {
  return BoundedWriter(max_chars).Write(v);
}

std::string Utf8Prefix(std::string_view s, std::size_t max_bytes) {
  if (s.size() <= max_bytes) return std::string(s);
  std::size_t end = max_bytes;
  // Step back over continuation bytes (10xxxxxx) so the cut lands before a lead byte.
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  return std::string(s.substr(0, end));
}

}  // namespace ferry
