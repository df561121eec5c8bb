#pragma once
// Pixel normalization on the device, both forms, with the contracts of
// sbgan/backend/cpu/pixel_norm.hpp (which also defines PixelNormForm):
//   r = mean_c(x²) + ε,   y = x·r^p,   dx += r^p·dy + (2p/C)·r^(p−1)·x·Σ_c x·dy
// (the CPU has no separate second-order kernel for it).
//
// A block is a tile of positions of one sample × slices of the channels:
// threadIdx.x walks positions (coalesced along H·W), threadIdx.y the channels in
// steps of blockDim.y. The per-position sums, in double, are added over the slices
// by a fixed tree in shared memory; then every thread writes its channel slice.
// Feature maps get 32 positions × 8 slices, latent vectors ([N, C], one position)
// 1 × 256: one sample's channels across the whole block.
#include "sbgan/backend/cpu/pixel_norm.hpp"
#include "sbgan/backend/cuda/check.hpp"
#include "sbgan/backend/cuda/stream.hpp"
#include "sbgan/core/tensor.hpp"

namespace sbgan::kernels {

namespace pixel_norm_cuda {

inline constexpr int block_threads = 256;

struct Layout {
  index_t n, c, hw;
};

template <class T>
Layout layout_of(const Tensor<T, cuda>& x) {
  const index_t n = x.shape()[0], c = x.shape()[1];
  return {n, c, n * c == 0 ? 0 : x.numel() / (n * c)};
}

// r^p, as the CPU's power<Form>.
template <PixelNormForm Form>
__device__ double power(double r) {
  if constexpr (Form == PixelNormForm::paper)
    return 1.0 / sqrt(r);
  else
    return 1.0 / r;
}

// 2p: −1 (paper) or −2 (official).
template <PixelNormForm Form>
inline constexpr double two_p = Form == PixelNormForm::paper ? -1.0 : -2.0;

// Forward: out = x·r^p. Backward: out += r^p·dy + coef·x.
template <PixelNormForm Form, bool Backward, class T>
__global__ void __launch_bounds__(block_threads)
    pixel_norm_kernel(Layout l, index_t tiles, double epsilon, const T* x, const T* dy, T* out) {
  __shared__ double square[block_threads], cross[block_threads];
  const index_t b = blockIdx.x / tiles;
  const index_t p = (blockIdx.x % tiles) * blockDim.x + threadIdx.x;
  const bool active = p < l.hw;
  const index_t first = b * l.c * l.hw + p;  // channel ch of this position: first + ch·hw
  double sq = 0, cr = 0;
  if (active) {
    for (index_t ch = threadIdx.y; ch < l.c; ch += blockDim.y) {
      const double v = x[first + ch * l.hw];
      sq += v * v;
      if constexpr (Backward) cr += v * dy[first + ch * l.hw];
    }
  }
  const unsigned slot = threadIdx.y * blockDim.x + threadIdx.x;
  square[slot] = sq;
  cross[slot] = cr;
  __syncthreads();
  for (unsigned stride = blockDim.y / 2; stride > 0; stride /= 2) {  // blockDim.y is a power of two
    if (threadIdx.y < stride) {
      square[slot] += square[slot + stride * blockDim.x];
      cross[slot] += cross[slot + stride * blockDim.x];
    }
    __syncthreads();
  }
  if (!active) return;
  const double r = square[threadIdx.x] / static_cast<double>(l.c) + epsilon;
  const double factor = power<Form>(r);
  if constexpr (!Backward) {
    for (index_t ch = threadIdx.y; ch < l.c; ch += blockDim.y) {
      const index_t i = first + ch * l.hw;
      out[i] = static_cast<T>(x[i] * factor);
    }
  } else {
    const double coefficient = cross[threadIdx.x] * (two_p<Form> / static_cast<double>(l.c) * factor / r);
    for (index_t ch = threadIdx.y; ch < l.c; ch += blockDim.y) {
      const index_t i = first + ch * l.hw;
      out[i] += static_cast<T>(factor * dy[i] + coefficient * x[i]);
    }
  }
}

template <PixelNormForm Form, bool Backward, class T>
void run(const Tensor<T, cuda>& x, const T* dy, double epsilon, T* out) {
  const Layout l = layout_of(x);
  if (l.n * l.hw == 0 || l.c == 0) return;
  // Positions per block: the smallest power of two ≥ H·W, at most a warp.
  unsigned positions = 1;
  while (positions < 32 && positions < l.hw) positions *= 2;
  const index_t tiles = (l.hw + positions - 1) / positions;
  const dim3 block(positions, block_threads / positions);
  pixel_norm_kernel<Form, Backward><<<static_cast<unsigned>(l.n * tiles), block, 0, cuda_detail::stream()>>>(l, tiles, epsilon,
                                                                                                  x.data(), dy, out);
  SBGAN_CUDA_CHECK(cudaGetLastError());
}

}  // namespace pixel_norm_cuda

// y = x·r^p (assigns y).
template <PixelNormForm Form, class T>
void pixel_norm_forward(const Tensor<T, cuda>& x, double epsilon, Tensor<T, cuda>& y) {
  pixel_norm_cuda::run<Form, false>(x, static_cast<const T*>(nullptr), epsilon, y.data());
}

// dx += r^p·dy + (2p/C)·r^(p−1)·x·Σ_c x·dy
template <PixelNormForm Form, class T>
void pixel_norm_backward(const Tensor<T, cuda>& x, const Tensor<T, cuda>& dy, double epsilon, Tensor<T, cuda>& dx) {
  pixel_norm_cuda::run<Form, true>(x, dy.data(), epsilon, dx.data());
}

}  // namespace sbgan::kernels
