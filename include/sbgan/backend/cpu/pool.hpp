#pragma once
// Average pooling. Padding never counts towards the divisor (PyTorch's
// count_include_pad=False), which is what the reference's 3x3 stride-2 pad-1
// downsampling uses; for the unpadded 2x2 pool the two conventions coincide.
#include <algorithm>

#include "sbgan/backend/cpu/parallel.hpp"
#include "sbgan/core/tensor.hpp"
#include "sbgan/core/window.hpp"

namespace sbgan::kernels {

namespace pool_cpu {
struct span {
  index_t begin, end;
};
inline span clip(index_t out_index, index_t stride, index_t pad, index_t kernel, index_t size) {
  const index_t start = out_index * stride - pad;
  return {std::max<index_t>(start, 0), std::min<index_t>(start + kernel, size)};
}
}  // namespace pool_cpu

template <class T>
void avg_pool2d_forward(const Tensor<T, cpu>& x, const Window2d& g, Tensor<T, cpu>& y) {
  const index_t planes = x.shape().n() * x.shape().c();
  const index_t h = x.shape().h(), w = x.shape().w(), oh = y.shape().h(), ow = y.shape().w();
  const T* xs = x.data();
  T* ys = y.data();
  cpu_detail::parallel_for(
      planes * oh,
      [&](index_t r) {
        const index_t pl = r / oh, i = r % oh;
        const auto rs = pool_cpu::clip(i, g.stride_h, g.pad_h, g.kernel_h, h);
        for (index_t j = 0; j < ow; ++j) {
          const auto cs = pool_cpu::clip(j, g.stride_w, g.pad_w, g.kernel_w, w);
          T s = 0;
          for (index_t a = rs.begin; a < rs.end; ++a)
            for (index_t b = cs.begin; b < cs.end; ++b) s += xs[(pl * h + a) * w + b];
          ys[r * ow + j] = s / static_cast<T>((rs.end - rs.begin) * (cs.end - cs.begin));
        }
      },
      ow * g.kernel_h * g.kernel_w);
}

// dx += pooled-transpose(dy)
template <class T>
void avg_pool2d_backward(const Tensor<T, cpu>& dy, const Window2d& g, Tensor<T, cpu>& dx) {
  const index_t planes = dx.shape().n() * dx.shape().c();
  const index_t h = dx.shape().h(), w = dx.shape().w(), oh = dy.shape().h(), ow = dy.shape().w();
  const T* gs = dy.data();
  T* ds = dx.data();
  cpu_detail::parallel_for(
      planes,
      [&](index_t pl) {
        for (index_t i = 0; i < oh; ++i) {
          const auto rs = pool_cpu::clip(i, g.stride_h, g.pad_h, g.kernel_h, h);
          for (index_t j = 0; j < ow; ++j) {
            const auto cs = pool_cpu::clip(j, g.stride_w, g.pad_w, g.kernel_w, w);
            const T share = gs[(pl * oh + i) * ow + j] / static_cast<T>((rs.end - rs.begin) * (cs.end - cs.begin));
            for (index_t a = rs.begin; a < rs.end; ++a)
              for (index_t b = cs.begin; b < cs.end; ++b) ds[(pl * h + a) * w + b] += share;
          }
        }
      },
      oh * ow * g.kernel_h * g.kernel_w);
}

}  // namespace sbgan::kernels
