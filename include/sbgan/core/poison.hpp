#pragma once
// Test support built into allocation: inside a poison_scope every new tensor is
// filled with NaN, so a kernel that leaves an output element unwritten is caught
// by the first finiteness check instead of passing with stale zeros.
namespace sbgan {

namespace detail {
inline bool& poison_flag() {
  thread_local bool on = false;
  return on;
}
}  // namespace detail

[[nodiscard]] inline bool poisoning_new_tensors() { return detail::poison_flag(); }

class poison_scope {
 public:
  poison_scope() : previous_(detail::poison_flag()) { detail::poison_flag() = true; }
  ~poison_scope() { detail::poison_flag() = previous_; }
  poison_scope(const poison_scope&) = delete;
  poison_scope& operator=(const poison_scope&) = delete;

 private:
  bool previous_;
};

}  // namespace sbgan
