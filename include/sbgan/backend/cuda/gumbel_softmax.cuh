#pragma once
// The straight-through Gumbel-softmax sampler on the device, mirroring
// sbgan/backend/cpu/gumbel_softmax.hpp (the formulas are there). Every kernel runs one
// thread per pixel walking its channels (adjacent threads hold adjacent pixels, so
// each channel step is coalesced) and is one fused launch per direction:
//   forward:  z and its channel max, then exp and their double sum, then normalise
//             and take the argmax of the soft sample, then write the one-hot.
//   backward: the channel sum Σ soft·dy in double, then the gradient.
//   one-hot argmax: one read sweep for the argmax, one write sweep for the one-hot.
// Drawn noise is philox::gumbel_at of the element's flat index: exactly the value
// the CPU kernel (and Generator::gumbel) uses for the same stream position.
#include <cmath>
#include <cstdint>

#include "sbgan/backend/cuda/launch.cuh"
#include "sbgan/core/philox.hpp"
#include "sbgan/core/tensor.hpp"

namespace sbgan::cuda_detail {

// Gumbel noise of flat element i of a draw at `pos`.
template <class T>
struct philox_gumbel_noise {
  philox::stream_position pos;
  __device__ T operator()(index_t i) const { return philox::gumbel_at<T>(pos, static_cast<std::uint64_t>(i)); }
};

// Noise given as a tensor of the input's shape.
template <class T>
struct given_gumbel_noise {
  const T* values;
  __device__ T operator()(index_t i) const { return values[i]; }
};

// Whether v replaces best as the running argmax: strictly greater (ties keep the
// first index), and a NaN wins over any number, as in torch.argmax.
template <class T>
__device__ bool beats_for_argmax(T v, T best) {
  return v > best || (isnan(v) && !isnan(best));
}

// Offset of pixel `pix` of an NCHW tensor in channel 0.
__host__ __device__ inline index_t pixel_offset(index_t pix, index_t channels, index_t plane) {
  return (pix / plane) * channels * plane + pix % plane;
}

template <class T, class Noise>
void straight_through_forward(const Tensor<T, cuda>& p, Noise noise, T tau, T eps, Tensor<T, cuda>& soft,
                               Tensor<T, cuda>& hard) {
  const index_t channels = p.shape().c(), plane = p.shape().h() * p.shape().w();
  const T* ps = p.data();
  T* ss = soft.data();
  T* hs = hard.data();
  launch(p.shape().n() * plane, [=] __device__(index_t pix) {
    const index_t off = pixel_offset(pix, channels, plane);
    // The perturbed logits z (kept in `soft`) and their maximum.
    T peak = 0;
    for (index_t c = 0; c < channels; ++c) {
      const index_t i = off + c * plane;
      const T z = (std::log(ps[i] + eps) + noise(i)) / tau;
      ss[i] = z;
      peak = c == 0 || peak < z ? z : peak;  // std::max's rule
    }
    // Exponentials, summed in double.
    double total = 0;
    for (index_t c = 0; c < channels; ++c) {
      const index_t i = off + c * plane;
      const T e = std::exp(ss[i] - peak);
      ss[i] = e;
      total += static_cast<double>(e);
    }
    const double inv_total = 1.0 / total;
    // Normalise and take the argmax of the soft sample itself (what the reference compares).
    T best = 0;
    index_t arg = 0;
    for (index_t c = 0; c < channels; ++c) {
      const index_t i = off + c * plane;
      const T y = static_cast<T>(static_cast<double>(ss[i]) * inv_total);
      ss[i] = y;
      if (c == 0 || beats_for_argmax(y, best)) {
        best = y;
        arg = c;
      }
    }
    for (index_t c = 0; c < channels; ++c) hs[off + c * plane] = c == arg ? T(1) : T(0);
  });
}

}  // namespace sbgan::cuda_detail

namespace sbgan::kernels {

// Forward with noise drawn from the Philox stream at `noise`: element i gets exactly
// the value Generator::gumbel would write at i for that position. The caller
// advances its generator by philox::blocks_for_uniform(p.numel()) blocks.
// p, soft and hard share one shape [N, K, H, W].
template <class T>
void gumbel_softmax_st_forward(const Tensor<T, cuda>& p, const philox::stream_position& noise, T tau, T eps,
                               Tensor<T, cuda>& soft, Tensor<T, cuda>& hard) {
  cuda_detail::straight_through_forward(p, cuda_detail::philox_gumbel_noise<T>{noise}, tau, eps, soft, hard);
}

// Forward with the noise given as a tensor of p's shape.
template <class T>
void gumbel_softmax_st_forward(const Tensor<T, cuda>& p, const Tensor<T, cuda>& noise, T tau, T eps,
                               Tensor<T, cuda>& soft, Tensor<T, cuda>& hard) {
  cuda_detail::straight_through_forward(p, cuda_detail::given_gumbel_noise<T>{noise.data()}, tau, eps, soft, hard);
}

// dp += soft ⊙ (dy − Σ_c soft·dy) / (τ·(p + ε)); the channel sum in double.
template <class T>
void gumbel_softmax_st_backward(const Tensor<T, cuda>& p, const Tensor<T, cuda>& soft, const Tensor<T, cuda>& dy,
                                T tau, T eps, Tensor<T, cuda>& dp) {
  const index_t channels = p.shape().c(), plane = p.shape().h() * p.shape().w();
  const T *ps = p.data(), *ss = soft.data(), *gs = dy.data();
  T* ds = dp.data();
  const double inv_tau = 1.0 / static_cast<double>(tau);
  cuda_detail::launch(p.shape().n() * plane, [=] __device__(index_t pix) {
    const index_t off = cuda_detail::pixel_offset(pix, channels, plane);
    double dotp = 0;
    for (index_t c = 0; c < channels; ++c) {
      const index_t i = off + c * plane;
      dotp += static_cast<double>(ss[i]) * gs[i];
    }
    for (index_t c = 0; c < channels; ++c) {
      const index_t i = off + c * plane;
      const double dz = static_cast<double>(ss[i]) * (gs[i] - dotp);
      ds[i] += static_cast<T>(dz * inv_tau / (static_cast<double>(ps[i]) + eps));
    }
  });
}

// hard = one-hot(argmax_c x), ties to the first index, NaN as the maximum (torch.argmax).
// One read sweep and one write sweep per pixel: each element is read once and written once.
template <class T>
void one_hot_argmax_channels(const Tensor<T, cuda>& x, Tensor<T, cuda>& hard) {
  const index_t channels = x.shape().c(), plane = x.shape().h() * x.shape().w();
  const T* xs = x.data();
  T* hs = hard.data();
  cuda_detail::launch(x.shape().n() * plane, [=] __device__(index_t pix) {
    const index_t off = cuda_detail::pixel_offset(pix, channels, plane);
    T best = 0;
    index_t arg = 0;
    for (index_t c = 0; c < channels; ++c) {
      const T v = xs[off + c * plane];
      if (c == 0 || cuda_detail::beats_for_argmax(v, best)) {
        best = v;
        arg = c;
      }
    }
    for (index_t c = 0; c < channels; ++c) hs[off + c * plane] = c == arg ? T(1) : T(0);
  });
}

}  // namespace sbgan::kernels
