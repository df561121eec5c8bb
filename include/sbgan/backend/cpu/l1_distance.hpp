#pragma once
// The L1 distance between two tensors and its gradient, for losses that compare
// feature maps (PyTorch's L1Loss). The sum runs over fixed blocks accumulated in
// double and then adds the block sums in order, so it is accurate over millions of
// activations and gives the same result on any number of threads.
#include <algorithm>
#include <cmath>
#include <vector>

#include "sbgan/backend/cpu/elementwise.hpp"
#include "sbgan/backend/cpu/parallel.hpp"
#include "sbgan/core/tensor.hpp"

namespace sbgan::kernels {

// Σ |a − b|
template <class T>
double l1_distance_sum(const Tensor<T, cpu>& a, const Tensor<T, cpu>& b) {
  cpu_detail_ew::same_size("l1_distance_sum", a, b);
  constexpr index_t block = 4096;
  const index_t n = a.numel(), blocks = (n + block - 1) / block;
  std::vector<double> partial(static_cast<std::size_t>(blocks), 0.0);
  const T *as = a.data(), *bs = b.data();
  cpu_detail::parallel_for(
      blocks,
      [&](index_t k) {
        double s = 0;
        for (index_t i = k * block, end = std::min(n, (k + 1) * block); i < end; ++i)
          s += std::abs(static_cast<double>(as[i]) - static_cast<double>(bs[i]));
        partial[static_cast<std::size_t>(k)] = s;
      },
      block);
  double total = 0;
  for (double s : partial) total += s;
  return total;
}

// da += scale · sign(a − b), with sign(0) = 0 as torch.sign gives it: entries that
// agree exactly (two ReLU features that are both zero) get no gradient.
template <class T>
void l1_distance_backward(const Tensor<T, cpu>& a, const Tensor<T, cpu>& b, T scale, Tensor<T, cpu>& da) {
  cpu_detail_ew::same_size("l1_distance_backward", a, b);
  cpu_detail_ew::same_size("l1_distance_backward", a, da);
  const T *as = a.data(), *bs = b.data();
  T* d = da.data();
  cpu_detail::parallel_chunks(a.numel(), [&](index_t begin, index_t end) {
    for (index_t i = begin; i < end; ++i) d[i] += as[i] > bs[i] ? scale : as[i] < bs[i] ? -scale : T(0);
  });
}

}  // namespace sbgan::kernels
