#pragma once
// Kernels of the GAN losses and gradient penalties on the device, with the
// contracts of sbgan/backend/cpu/loss.hpp. Sums are accumulated in double in a
// fixed order (reduce.cuh, group_reduce.cuh); values the host needs (a loss, the
// per-sample norms) come back to it, everything else stays on the device.
#include <cuda_runtime.h>

#include <span>
#include <string>
#include <vector>

#include "sbgan/backend/cuda/check.hpp"
#include "sbgan/backend/cuda/elementwise.cuh"  // cuda_detail::same_size
#include "sbgan/backend/cuda/group_reduce.cuh"
#include "sbgan/backend/cuda/launch.cuh"
#include "sbgan/backend/cuda/reduce.cuh"
#include "sbgan/backend/cuda/stream.hpp"
#include "sbgan/core/error.hpp"
#include "sbgan/core/tensor.hpp"

namespace sbgan::kernels {

namespace loss_cuda {

template <class T>
void per_sample_operand(const char* kernel, const Tensor<T, cuda>& x, index_t samples) {
  if (x.shape().rank() == 0 || x.shape().n() != samples)
    throw shape_error(std::string(kernel) + ": expected " + std::to_string(samples) + " samples, got " +
                      x.shape().str());
}

}  // namespace loss_cuda

// Σ max(0, 1 + s·d) with s = ±1, SPADE's hinge margin; adds scale·∂/∂d into grad
// (half of it at the kink, as torch.min's backward splits a tie). The gradient is
// written in the same sweep that sums the margins.
template <class T>
double hinge_sum(const Tensor<T, cuda>& d, T s, T scale, Tensor<T, cuda>& grad) {
  cuda_detail::same_size("hinge_sum", d, grad);
  const T* ds = d.data();
  T* g = grad.data();
  const T full = scale * s, half = full / T(2);
  return cuda_detail::sum_to_host(d.numel(), [=] __device__(index_t i) {
    const T margin = T(1) + s * ds[i];
    if (margin > T(0)) {
      g[i] += full;
      return static_cast<double>(margin);
    }
    if (margin == T(0)) g[i] += half;
    return 0.0;
  });
}

// out[n] = α[n]·a[n] + (1 − α[n])·b[n], one weight per sample (α: [N]).
template <class T>
void per_sample_lerp(const Tensor<T, cuda>& a, const Tensor<T, cuda>& b, const Tensor<T, cuda>& alpha,
                     Tensor<T, cuda>& out) {
  cuda_detail::same_size("per_sample_lerp", a, b);
  cuda_detail::same_size("per_sample_lerp", a, out);
  const index_t n = a.shape().n(), per = a.shape().per_sample();
  loss_cuda::per_sample_operand("per_sample_lerp weights", alpha, n);
  const T *as = a.data(), *bs = b.data(), *al = alpha.data();
  T* o = out.data();
  cuda_detail::launch(a.numel(), [=] __device__(index_t i) {
    const T w = al[i / per];
    o[i] = w * as[i] + (T(1) - w) * bs[i];
  });
}

// The backward of per_sample_lerp: da[n] += α[n]·dout[n], db[n] += (1 − α[n])·dout[n].
// Either destination may be empty (not wanted).
template <class T>
void per_sample_lerp_backward(const Tensor<T, cuda>& dout, const Tensor<T, cuda>& alpha, Tensor<T, cuda>& da,
                              Tensor<T, cuda>& db) {
  const index_t n = dout.shape().n(), per = dout.shape().per_sample();
  loss_cuda::per_sample_operand("per_sample_lerp_backward weights", alpha, n);
  if (!da.empty()) cuda_detail::same_size("per_sample_lerp_backward", dout, da);
  if (!db.empty()) cuda_detail::same_size("per_sample_lerp_backward", dout, db);
  const T *d = dout.data(), *al = alpha.data();
  T *pa = da.data(), *pb = db.data();
  cuda_detail::launch(dout.numel(), [=] __device__(index_t i) {
    const T w = al[i / per];
    if (pa) pa[i] += w * d[i];
    if (pb) pb[i] += (T(1) - w) * d[i];
  });
}

// Σ over each sample's elements of x², in double: one value per sample, on the host.
template <class T>
std::vector<double> per_sample_squared_norms(const Tensor<T, cuda>& x) {
  const index_t n = x.shape().n(), per = x.shape().per_sample();
  std::vector<double> out(static_cast<std::size_t>(n));
  if (n == 0) return out;
  Tensor<double, cuda> norms(Shape{n});
  double* ns = norms.data();
  const T* xs = x.data();
  cuda_detail::reduce_groups<1>(
      cuda_detail::GroupLayout{n, 1, per, per, 0},
      [=] __device__(index_t, index_t i, double(&acc)[1]) {
        const double v = xs[i];
        acc[0] += v * v;
      },
      [=] __device__(index_t s, const double(&sum)[1]) { ns[s] = sum[0]; });
  SBGAN_CUDA_CHECK(cudaMemcpyAsync(out.data(), ns, static_cast<std::size_t>(n) * sizeof(double),
                                   cudaMemcpyDeviceToHost, cuda_detail::stream()));
  cuda_detail::synchronize();
  return out;
}

// y[n] += c[n]·x[n], one coefficient per sample; the coefficients (host memory)
// are copied to the device first.
template <class T>
void per_sample_axpy(std::span<const double> c, const Tensor<T, cuda>& x, Tensor<T, cuda>& y) {
  cuda_detail::same_size("per_sample_axpy", x, y);
  const index_t n = x.shape().n(), per = x.shape().per_sample();
  if (static_cast<index_t>(c.size()) != n)
    throw shape_error("per_sample_axpy: " + std::to_string(c.size()) + " coefficients for " + std::to_string(n) +
                      " samples");
  if (x.numel() == 0) return;
  Tensor<double, cuda> coefficients(Shape{n});
  // c is the caller's pageable memory, which an asynchronous copy may still read
  // after returning: wait until it has been read.
  SBGAN_CUDA_CHECK(cudaMemcpyAsync(coefficients.data(), c.data(), static_cast<std::size_t>(n) * sizeof(double),
                                   cudaMemcpyHostToDevice, cuda_detail::stream()));
  cuda_detail::synchronize();
  const double* cs = coefficients.data();
  const T* xs = x.data();
  T* ys = y.data();
  cuda_detail::launch(x.numel(), [=] __device__(index_t i) { ys[i] += static_cast<T>(cs[i / per]) * xs[i]; });
}

}  // namespace sbgan::kernels
