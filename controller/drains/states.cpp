#include "controller/drains/states.hpp"

#include <algorithm>
#include <array>

namespace ferry::controller::drains {
namespace {

using enum Subject;

// A server is pending until its turn (plan order, at most max_parallel moving). Its move starts
// in two commits: the intent ("starting", attempts + 1) under the drain's lease, then the move's
// request under the key drain:<drain>:<server>:<attempt> ("moving"); whoever drives the drain
// after a crash between the two makes the same request and gets the same move. A move that
// fails, or a request refused, is tried once more elsewhere (runner.hpp kMaxAttemptsPerServer).
// A server a plan could not place starts "skipped" (no transition).
//
// A drain runs until every server ended; pause holds new starts, cancel stops them (moves under
// way finish; those still queued in the engine are aborted). Its end follows from its servers.
constexpr std::array kTransitions = {
    // The happy path of a server.
    Transition{kServer, "pending", "starting", "intent_saved"},
    Transition{kServer, "starting", "moving", "move_requested"},
    Transition{kServer, "moving", "moved", "move_succeeded"},
    // Its move failed or was lost (aborted by an admin, refused by the destination): once more
    // elsewhere, then failed.
    Transition{kServer, "moving", "pending", "move_failed"},
    Transition{kServer, "moving", "failed", "move_failed"},
    // The request itself was refused, or its re-plan found no host (the server in a state that
    // cannot move, busy past --drain-busy-wait, nothing fits).
    Transition{kServer, "starting", "pending", "request_refused"},
    Transition{kServer, "starting", "failed", "request_refused"},
    // Changed by someone else before its turn.
    Transition{kServer, "pending", "skipped", "server_deleted"},
    Transition{kServer, "starting", "skipped", "server_deleted"},
    Transition{kServer, "pending", "moved", "moved_elsewhere"},
    // Cancelled, or past the deadline: what has not started does not start; a move still
    // waiting in the engine's queue is aborted.
    Transition{kServer, "pending", "cancelled", "drain_stopped"},
    Transition{kServer, "moving", "cancelled", "queued_move_aborted"},

    // The drain: an admin's pause, resume and cancel (Service::Act).
    Transition{kDrain, "running", "paused", "pause"},
    Transition{kDrain, "paused", "running", "resume"},
    Transition{kDrain, "running", "cancelling", "cancel"},
    Transition{kDrain, "paused", "cancelling", "cancel"},
    // Its end once every server ended (Runner): done (all moved, the host empty), partial, failed
    // (none moved). A paused drain ends as well when the moves it let finish were the last.
    Transition{kDrain, "running", "done", "all_moved"},
    Transition{kDrain, "running", "partial", "some_not_moved"},
    Transition{kDrain, "running", "failed", "none_moved"},
    Transition{kDrain, "paused", "done", "all_moved"},
    Transition{kDrain, "paused", "partial", "some_not_moved"},
    Transition{kDrain, "paused", "failed", "none_moved"},
    Transition{kDrain, "cancelling", "cancelled", "moves_ended"},
};

}  // namespace

std::span<const Transition> Transitions() { return kTransitions; }

bool IsAllowed(Subject subject, std::string_view from, std::string_view to,
               std::string_view event) {
  return std::any_of(kTransitions.begin(), kTransitions.end(), [&](const Transition& t) {
    return t.subject == subject && t.from == from && t.to == to && t.event == event;
  });
}

bool IsServerEnded(std::string_view state) {
  return state == "moved" || state == "failed" || state == "skipped" || state == "cancelled";
}

std::string EdgeName(const Transition& t) {
  return std::string(t.subject == kServer ? "drain:" : "drain-status:") + std::string(t.from) +
         ">" + std::string(t.to) + ":" + std::string(t.event);
}

}  // namespace ferry::controller::drains
