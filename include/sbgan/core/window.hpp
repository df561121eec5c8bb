#pragma once
// Sliding-window geometry shared by convolution and pooling on every backend.
#include <string>

#include "sbgan/core/shape.hpp"

namespace sbgan {

struct Window2d {
  index_t kernel_h = 1, kernel_w = 1;
  index_t stride_h = 1, stride_w = 1;
  index_t pad_h = 0, pad_w = 0;

  static Window2d square(index_t kernel, index_t stride = 1, index_t pad = 0) {
    return {kernel, kernel, stride, stride, pad, pad};
  }
  [[nodiscard]] index_t out_h(index_t in_h) const { return (in_h + 2 * pad_h - kernel_h) / stride_h + 1; }
  [[nodiscard]] index_t out_w(index_t in_w) const { return (in_w + 2 * pad_w - kernel_w) / stride_w + 1; }
  [[nodiscard]] bool fits(index_t in_h, index_t in_w) const {
    return in_h + 2 * pad_h >= kernel_h && in_w + 2 * pad_w >= kernel_w;
  }
  [[nodiscard]] bool is_pointwise() const {
    return kernel_h == 1 && kernel_w == 1 && stride_h == 1 && stride_w == 1 && pad_h == 0 && pad_w == 0;
  }
  [[nodiscard]] std::string str() const {
    return "kernel " + std::to_string(kernel_h) + "x" + std::to_string(kernel_w) + ", stride " +
           std::to_string(stride_h) + "x" + std::to_string(stride_w) + ", pad " +
           std::to_string(pad_h) + "x" + std::to_string(pad_w);
  }
};

}  // namespace sbgan
