#pragma once
// "ferry-disk://host:port" (internal to agent/disk_transfer): what DiskReceiver::Uri() says and
// SendDisks connects to. An IPv6 address goes in brackets.
#include <string>

namespace ferry::agent::transfer {

struct TransferUri {
  std::string host;  // without brackets
  int port = 0;
};

std::string FormatTransferUri(const std::string& host, int port);
TransferUri ParseTransferUri(const std::string& uri);  // throws Error(kBadRequest)

}  // namespace ferry::agent::transfer
