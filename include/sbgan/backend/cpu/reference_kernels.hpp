#pragma once
// The switch between the CPU kernels' vectorised fast paths and their scalar reference
// code: SBGAN_REFERENCE_KERNELS=1 in the environment runs the reference everywhere a
// fast path exists (to check a result against it, or to rule the fast path out while
// hunting a bug). Any value but empty and "0" counts as on. Read once, at first use.
#include <cstdlib>
#include <cstring>

namespace sbgan::cpu_detail {

[[nodiscard]] inline bool reference_kernels_requested() {
  static const bool requested = [] {
    const char* value = std::getenv("SBGAN_REFERENCE_KERNELS");
    return value != nullptr && *value != '\0' && std::strcmp(value, "0") != 0;
  }();
  return requested;
}

}  // namespace sbgan::cpu_detail
