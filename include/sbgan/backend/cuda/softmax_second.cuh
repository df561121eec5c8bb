#pragma once
// The second-order pass of the channel softmax on the device, mirroring
// sbgan/backend/cpu/softmax_second.hpp (the derivation is there): one thread per
// pixel, three sweeps over its channels, the channel sums accumulated in double.
//   dgy += y ⊙ (w − ⟨y, w⟩)
//   dx  += y ⊙ (q − ⟨y, q⟩),   q = w ⊙ gy − gy·⟨y, w⟩ − w·⟨y, gy⟩
#include "sbgan/backend/cuda/launch.cuh"
#include "sbgan/core/tensor.hpp"

namespace sbgan::kernels {

template <class T>
void softmax_channels_second(const Tensor<T, cuda>& y, const Tensor<T, cuda>& gy, const Tensor<T, cuda>& w,
                             Tensor<T, cuda>& dx, Tensor<T, cuda>& dgy) {
  const index_t n = y.shape().n(), c = y.shape().c(), hw = y.shape().h() * y.shape().w();
  const T *ys = y.data(), *gs = gy.data(), *ws = w.data();
  T *dxs = dx.data(), *dgs = dgy.data();
  cuda_detail::launch(n * hw, [=] __device__(index_t pix) {
    const index_t off = (pix / hw) * c * hw + pix % hw;
    double yw = 0, yg = 0;
    for (index_t ch = 0; ch < c; ++ch) {
      const index_t i = off + ch * hw;
      yw += static_cast<double>(ys[i]) * ws[i];
      yg += static_cast<double>(ys[i]) * gs[i];
    }
    const auto q = [=](index_t i) { return static_cast<double>(ws[i]) * gs[i] - gs[i] * yw - ws[i] * yg; };
    double yq = 0;
    for (index_t ch = 0; ch < c; ++ch) yq += ys[off + ch * hw] * q(off + ch * hw);
    for (index_t ch = 0; ch < c; ++ch) {
      const index_t i = off + ch * hw;
      dgs[i] += static_cast<T>(ys[i] * (ws[i] - yw));
      dxs[i] += static_cast<T>(ys[i] * (q(i) - yq));
    }
  });
}

}  // namespace sbgan::kernels
