// A server whose disks live on a shared datastore moves only to a host that sees that
// datastore: elsewhere its disks do not exist (libvirt would start the copy and fail at the
// end; a cold move would have nothing to define). Nova leaves this to the operator's aggregates.
#include "controller/scheduler/filters.hpp"

namespace ferry::controller::scheduler {

std::string_view DatastoreFilter::Name() const { return "DatastoreFilter"; }
FilterShape DatastoreFilter::Shape() const { return FilterShape::kProfile; }
NameRule DatastoreFilter::Names(const RequestSpec& /*spec*/) const { return {}; }

bool DatastoreFilter::Passes(const HostState& host, const RequestSpec& spec) const {
  return !spec.required_datastore || host.shared_datastores.count(*spec.required_datastore) > 0;
}

}  // namespace ferry::controller::scheduler
