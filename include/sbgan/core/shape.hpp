#pragma once
// A tensor shape of rank 0..4. Rank-4 shapes are NCHW; lower ranks hold biases
// ({C}), linear weights ({out, in}) and flat activations ({N, F}).
#include <array>
#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace sbgan {

using index_t = std::int64_t;

class Shape {
 public:
  static constexpr int max_rank = 4;

  Shape() = default;
  Shape(std::initializer_list<index_t> dims) {
    if (dims.size() > max_rank) throw std::invalid_argument("Shape: rank above 4");
    for (index_t d : dims) {
      if (d < 0) throw std::invalid_argument("Shape: negative dimension");
      dims_[static_cast<std::size_t>(rank_++)] = d;
    }
  }

  [[nodiscard]] int rank() const { return rank_; }
  [[nodiscard]] index_t operator[](int i) const { return dims_[static_cast<std::size_t>(i)]; }
  [[nodiscard]] index_t numel() const {
    index_t n = 1;
    for (int i = 0; i < rank_; ++i) n *= dims_[static_cast<std::size_t>(i)];
    return n;
  }

  // NCHW accessors; valid for rank 4 (n() is also the batch of rank-2 shapes).
  [[nodiscard]] index_t n() const { return dims_[0]; }
  [[nodiscard]] index_t c() const { return dims_[1]; }
  [[nodiscard]] index_t h() const { return dims_[2]; }
  [[nodiscard]] index_t w() const { return dims_[3]; }
  // Elements per batch entry: C·H·W for rank 4, F for rank 2.
  [[nodiscard]] index_t per_sample() const { return rank_ == 0 ? 1 : numel() / dims_[0]; }

  friend bool operator==(const Shape& a, const Shape& b) {
    if (a.rank_ != b.rank_) return false;
    for (int i = 0; i < a.rank_; ++i)
      if (a.dims_[static_cast<std::size_t>(i)] != b.dims_[static_cast<std::size_t>(i)]) return false;
    return true;
  }

  [[nodiscard]] std::string str() const {
    std::ostringstream s;
    s << '[';
    for (int i = 0; i < rank_; ++i) s << (i ? ", " : "") << dims_[static_cast<std::size_t>(i)];
    s << ']';
    return s.str();
  }
  friend std::ostream& operator<<(std::ostream& os, const Shape& s) { return os << s.str(); }

 private:
  std::array<index_t, max_rank> dims_{};
  int rank_ = 0;
};

}  // namespace sbgan
