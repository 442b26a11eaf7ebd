#pragma once
#include <string>

namespace ferry {

// Random (version 4) UUID in canonical lowercase form.
std::string NewUuid();
// True for the canonical 8-4-4-4-12 hex form (any case).
bool IsUuid(const std::string& s);

}  // namespace ferry
