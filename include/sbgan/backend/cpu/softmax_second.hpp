#pragma once
// The second-order pass of the channel softmax, per pixel.
// With y = softmax(x), the input gradient is gₓ = J·gy, J = diag(y) − y·yᵀ
// (symmetric). For Q = ⟨gₓ, w⟩ = Σ w·y·gy − ⟨y, gy⟩·⟨y, w⟩:
//   ∂Q/∂gy = J·w = y ⊙ (w − ⟨y, w⟩)
//   ∂Q/∂y  = q   = w ⊙ gy − gy·⟨y, w⟩ − w·⟨y, gy⟩,   ∂Q/∂x = J·q = y ⊙ (q − ⟨y, q⟩)
// Both are added (dx, dgy); the channel sums are accumulated in double.
#include "sbgan/backend/cpu/parallel.hpp"
#include "sbgan/core/tensor.hpp"

namespace sbgan::kernels {

template <class T>
void softmax_channels_second(const Tensor<T, cpu>& y, const Tensor<T, cpu>& gy, const Tensor<T, cpu>& w,
                             Tensor<T, cpu>& dx, Tensor<T, cpu>& dgy) {
  const index_t n = y.shape().n(), c = y.shape().c(), hw = y.shape().h() * y.shape().w();
  const T *ys = y.data(), *gs = gy.data(), *ws = w.data();
  T *dxs = dx.data(), *dgs = dgy.data();
  cpu_detail::parallel_for(
      n * hw,
      [&](index_t pix) {
        const index_t off = (pix / hw) * c * hw + pix % hw;
        double yw = 0, yg = 0;
        for (index_t ch = 0; ch < c; ++ch) {
          const index_t i = off + ch * hw;
          yw += static_cast<double>(ys[i]) * ws[i];
          yg += static_cast<double>(ys[i]) * gs[i];
        }
        const auto q = [&](index_t i) {
          return static_cast<double>(ws[i]) * gs[i] - gs[i] * yw - ws[i] * yg;
        };
        double yq = 0;
        for (index_t ch = 0; ch < c; ++ch) yq += ys[off + ch * hw] * q(off + ch * hw);
        for (index_t ch = 0; ch < c; ++ch) {
          const index_t i = off + ch * hw;
          dgs[i] += static_cast<T>(ys[i] * (ws[i] - yw));
          dxs[i] += static_cast<T>(ys[i] * (q(i) - yq));
        }
      },
      3 * c);
}

}  // namespace sbgan::kernels
