// Moves stay in their cell: Nova refuses cross-cell live migration ("cross-cell live migration
// is not supported"); the conductor sets spec.cell to the source's cell.
#include "controller/scheduler/filters.hpp"

namespace ferry::controller::scheduler {

std::string_view SameCellFilter::Name() const { return "SameCellFilter"; }
FilterShape SameCellFilter::Shape() const { return FilterShape::kProfile; }
NameRule SameCellFilter::Names(const RequestSpec& /*spec*/) const { return {}; }

bool SameCellFilter::Passes(const HostState& host, const RequestSpec& spec) const {
  return !spec.cell || host.cell == *spec.cell;
}

}  // namespace ferry::controller::scheduler
