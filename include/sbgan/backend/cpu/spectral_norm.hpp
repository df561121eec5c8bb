#pragma once
// Spectral normalization kernels. The weight is read as a matrix W of shape
// [rows, cols] = [weight.shape()[0], numel / rows] (PyTorch's dim 0); u has `rows`
// entries, v has `cols`. Products accumulate in double.
//   power iteration: v = normalize(Wᵀu), u = normalize(W·v), normalize(z) = z / max(‖z‖, ε)
//   sigma:           σ = uᵀ·W·v
//   backward:        with u, v held fixed, Ŵ = W/σ has
//                    dW += (dŴ − ⟨dŴ, Ŵ⟩·u·vᵀ) / σ
#include <algorithm>
#include <cmath>
#include <vector>

#include "sbgan/backend/cpu/parallel.hpp"
#include "sbgan/core/error.hpp"
#include "sbgan/core/tensor.hpp"

namespace sbgan::kernels {

namespace spectral_cpu {

template <class T>
void check_vectors(const char* kernel, const Tensor<T, cpu>& weight, index_t u_size, index_t v_size) {
  const index_t rows = weight.shape()[0];
  if (rows <= 0 || u_size != rows || v_size * rows != weight.numel())
    throw shape_error(std::string(kernel) + ": u, v with " + std::to_string(u_size) + " and " +
                      std::to_string(v_size) + " entries do not fit a weight of shape " + weight.shape().str());
}

// out = W·v  (rows entries, in double)
template <class T>
std::vector<double> times_vector(const T* w, index_t rows, index_t cols, const T* v) {
  std::vector<double> out(static_cast<std::size_t>(rows));
  cpu_detail::parallel_for(
      rows,
      [&](index_t i) {
        const T* row = w + i * cols;
        double s = 0;
        for (index_t j = 0; j < cols; ++j) s += static_cast<double>(row[j]) * v[j];
        out[static_cast<std::size_t>(i)] = s;
      },
      cols);
  return out;
}

// out = Wᵀ·u  (cols entries, in double), rows streamed contiguously per column chunk.
template <class T>
std::vector<double> transpose_times_vector(const T* w, index_t rows, index_t cols, const T* u) {
  std::vector<double> out(static_cast<std::size_t>(cols), 0.0);
  const auto body = [&](index_t b, index_t e) {
    for (index_t i = 0; i < rows; ++i) {
      const double ui = u[i];
      const T* row = w + i * cols;
      for (index_t j = b; j < e; ++j) out[static_cast<std::size_t>(j)] += ui * row[j];
    }
  };
  if (rows * cols >= 32768)
    cpu_detail::parallel_chunks(cols, body);
  else
    body(0, cols);
  return out;
}

// dst = z / max(‖z‖, ε)
template <class T>
void normalize_into(const std::vector<double>& z, double eps, T* dst) {
  double sq = 0;
  for (double e : z) sq += e * e;
  const double d = std::max(std::sqrt(sq), eps);
  for (std::size_t i = 0; i < z.size(); ++i) dst[i] = static_cast<T>(z[i] / d);
}

}  // namespace spectral_cpu

// One power iteration from u: writes v_out = normalize(Wᵀu) and u_out = normalize(W·v_out).
template <class T>
void spectral_power_iteration(const Tensor<T, cpu>& weight, const Tensor<T, cpu>& u, T eps, Tensor<T, cpu>& u_out,
                              Tensor<T, cpu>& v_out) {
  spectral_cpu::check_vectors("spectral_power_iteration", weight, u.numel(), v_out.numel());
  spectral_cpu::check_vectors("spectral_power_iteration", weight, u_out.numel(), v_out.numel());
  const index_t rows = u.numel(), cols = v_out.numel();
  spectral_cpu::normalize_into(spectral_cpu::transpose_times_vector(weight.data(), rows, cols, u.data()),
                               static_cast<double>(eps), v_out.data());
  spectral_cpu::normalize_into(spectral_cpu::times_vector(weight.data(), rows, cols, v_out.data()),
                               static_cast<double>(eps), u_out.data());
}

// σ = uᵀ·W·v
template <class T>
double spectral_sigma(const Tensor<T, cpu>& weight, const Tensor<T, cpu>& u, const Tensor<T, cpu>& v) {
  spectral_cpu::check_vectors("spectral_sigma", weight, u.numel(), v.numel());
  const auto wv = spectral_cpu::times_vector(weight.data(), u.numel(), v.numel(), v.data());
  double s = 0;
  for (index_t i = 0; i < u.numel(); ++i) s += static_cast<double>(u[i]) * wv[static_cast<std::size_t>(i)];
  return s;
}

// grad_weight += (grad_normalized − ⟨grad_normalized, normalized⟩·u·vᵀ) / σ, the
// gradient through Ŵ = W/σ(W) with σ = uᵀ·W·v and u, v fixed.
template <class T>
void spectral_norm_backward(const Tensor<T, cpu>& grad_normalized, const Tensor<T, cpu>& normalized,
                            const Tensor<T, cpu>& u, const Tensor<T, cpu>& v, double sigma,
                            Tensor<T, cpu>& grad_weight) {
  spectral_cpu::check_vectors("spectral_norm_backward", grad_weight, u.numel(), v.numel());
  if (grad_normalized.numel() != grad_weight.numel() || normalized.numel() != grad_weight.numel())
    throw shape_error("spectral_norm_backward: weight and gradient sizes differ");
  const index_t rows = u.numel(), cols = v.numel();
  const T *gn = grad_normalized.data(), *wn = normalized.data(), *us = u.data(), *vs = v.data();
  double inner = 0;
  for (index_t i = 0; i < grad_weight.numel(); ++i) inner += static_cast<double>(gn[i]) * wn[i];
  T* gw = grad_weight.data();
  const double inv_sigma = 1.0 / sigma;
  cpu_detail::parallel_for(
      rows,
      [&](index_t i) {
        const double ku = inner * us[i];
        for (index_t j = 0; j < cols; ++j) {
          const index_t k = i * cols + j;
          gw[k] += static_cast<T>((gn[k] - ku * vs[j]) * inv_sigma);
        }
      },
      cols);
}

}  // namespace sbgan::kernels
