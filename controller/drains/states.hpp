#pragma once
// The state table of a host drain (0013_drains.sql): the states of each server of a drain and
// the statuses of the drain itself, and the one list of the transitions the runner and the
// service take between them. Every committed transition is logged as one line and reported to
// the hook (OnTransition) that crash tests use (FERRY_TEST_CRASH_AFTER, controller/main.cpp).
#include <functional>
#include <span>
#include <string>
#include <string_view>

namespace ferry::controller::drains {

// What a transition changes: one server of a drain (drain_servers.state), or the drain itself
// (drains.status).
enum class Subject { kServer, kDrain };

struct Transition {
  Subject subject;
  std::string_view from;
  std::string_view to;
  std::string_view event;
};

// Every allowed transition: each server's first, then the drain's.
std::span<const Transition> Transitions();
bool IsAllowed(Subject subject, std::string_view from, std::string_view to, std::string_view event);

// A server's state that ends it: moved, failed, skipped, cancelled.
bool IsServerEnded(std::string_view state);

// "drain:pending>starting:intent_saved" (a server's), "drain-status:running>paused:pause" (the
// drain's): the names FERRY_TEST_CRASH_AFTER and the crash tests use.
std::string EdgeName(const Transition& t);

// Told after a transition of drain `drain_uuid` committed.
using TransitionHook = std::function<void(const Transition&, const std::string& drain_uuid)>;

}  // namespace ferry::controller::drains
