#pragma once
// The Adam update on the device: adam_update for one parameter tensor, with the
// contract of sbgan/backend/cpu/adam.hpp, and adam_update_all, which updates up to
// 256 parameter tensors, each with its own scalars, in one launch.
//
// Both run the CPU's operations in the CPU's order: the two moment updates are
// explicit fused multiply-adds, no other product is followed by an addition (so
// none can be contracted), and the device's division and square root are correctly
// rounded (no fast math): a float run matches the CPU's bit for bit.
#include <cuda_runtime.h>

#include <span>
#include <string>

#include "sbgan/backend/cpu/adam.hpp"
#include "sbgan/backend/cuda/check.hpp"
#include "sbgan/backend/cuda/launch.cuh"
#include "sbgan/backend/cuda/stream.hpp"
#include "sbgan/core/error.hpp"
#include "sbgan/core/tensor.hpp"

namespace sbgan::kernels {

// One parameter for adam_update_all: its tensors (which must outlive the call)
// and the scalars of its update.
template <class T>
struct AdamTensors {
  Tensor<T, cuda>* value;
  const Tensor<T, cuda>* grad;
  Tensor<T, cuda>* exp_avg;
  Tensor<T, cuda>* exp_avg_sq;
  AdamScalars<T> scalars;
};

namespace adam_cuda {

template <class T>
void check_sizes(const Tensor<T, cuda>& value, const Tensor<T, cuda>& grad, const Tensor<T, cuda>& exp_avg,
                 const Tensor<T, cuda>& exp_avg_sq) {
  const index_t n = value.numel();
  if (grad.numel() != n || exp_avg.numel() != n || exp_avg_sq.numel() != n)
    throw shape_error("adam_update: parameter " + value.shape().str() + ", gradient " + grad.shape().str() +
                      ", moments " + exp_avg.shape().str() + " and " + exp_avg_sq.shape().str() +
                      " must have the same size");
}

// Element i of one parameter, exactly as the CPU's loop body.
template <class T>
__device__ void update_element(T* p, const T* g, T* m, T* v, index_t i, const AdamScalars<T>& s) {
  const T mi = fma(s.one_minus_beta1, g[i], m[i] * s.beta1);
  const T vi = fma(s.one_minus_beta2 * g[i], g[i], v[i] * s.beta2);
  const T denom = sqrt(vi) / s.bias_correction2_sqrt + s.eps;
  m[i] = mi;
  v[i] = vi;
  p[i] = p[i] + s.neg_step_size * mi / denom;
}

// A parameter as the fused kernel sees it: blocks [first_block, next slot's
// first_block) update it, block_elements elements each.
template <class T>
struct Slot {
  T* value;
  const T* grad;
  T* exp_avg;
  T* exp_avg_sq;
  index_t numel;
  index_t first_block;
  AdamScalars<T> scalars;
};

// Up to max_slots parameters travel as the kernel's argument (CUDA 12.1+ allows
// 32764 bytes on sm_70 and later): no table to copy, allocate or keep alive.
inline constexpr index_t max_slots = 256;
template <class T>
struct SlotTable {
  Slot<T> slot[max_slots];
  index_t count;
};
static_assert(sizeof(SlotTable<double>) <= 32764, "kernel argument limit");

inline constexpr int block_threads = 256;
inline constexpr index_t block_elements = 16 * block_threads;

// Each block finds its parameter by binary search over the slots' first blocks,
// then updates its range of that parameter. __grid_constant__: the table is read in
// place, never copied per thread.
template <class T>
__global__ void __launch_bounds__(block_threads) update_all(const __grid_constant__ SlotTable<T> table) {
  const index_t block = blockIdx.x;
  index_t lo = 0, hi = table.count;  // the last slot with first_block ≤ block
  while (hi - lo > 1) {
    const index_t mid = (lo + hi) / 2;
    if (table.slot[mid].first_block <= block)
      lo = mid;
    else
      hi = mid;
  }
  const Slot<T>& s = table.slot[lo];
  const index_t first = (block - s.first_block) * block_elements;
  const index_t last = first + block_elements < s.numel ? first + block_elements : s.numel;
  for (index_t i = first + threadIdx.x; i < last; i += block_threads)
    update_element(s.value, s.grad, s.exp_avg, s.exp_avg_sq, i, s.scalars);
}

template <class T>
void launch_update_all(const SlotTable<T>& table, index_t blocks) {
  update_all<<<static_cast<unsigned>(blocks), block_threads, 0, cuda_detail::stream()>>>(table);
  SBGAN_CUDA_CHECK(cudaGetLastError());
}

}  // namespace adam_cuda

template <class T>
void adam_update(Tensor<T, cuda>& value, const Tensor<T, cuda>& grad, Tensor<T, cuda>& exp_avg,
                 Tensor<T, cuda>& exp_avg_sq, const AdamScalars<T>& s) {
  adam_cuda::check_sizes(value, grad, exp_avg, exp_avg_sq);
  T* p = value.data();
  const T* g = grad.data();
  T *m = exp_avg.data(), *v = exp_avg_sq.data();
  cuda_detail::launch(value.numel(),
                      [=] __device__(index_t i) { adam_cuda::update_element(p, g, m, v, i, s); });
}

// adam_update for every entry of `params`: the same result as calling adam_update
// on each, in one launch per 256 parameters. All sizes are checked (as adam_update
// checks them) before anything is updated. Parameters must not share storage.
template <class T>
void adam_update_all(std::span<const AdamTensors<T>> params) {
  for (const AdamTensors<T>& a : params) adam_cuda::check_sizes(*a.value, *a.grad, *a.exp_avg, *a.exp_avg_sq);
  adam_cuda::SlotTable<T> table{};
  index_t blocks = 0;
  for (const AdamTensors<T>& a : params) {
    const index_t n = a.value->numel();
    if (n == 0) continue;  // no blocks: the search never lands on it
    if (table.count == adam_cuda::max_slots) {
      adam_cuda::launch_update_all(table, blocks);
      table.count = 0;
      blocks = 0;
    }
    table.slot[table.count++] = {a.value->data(), a.grad->data(), a.exp_avg->data(), a.exp_avg_sq->data(),
                                 n, blocks, a.scalars};
    blocks += (n + adam_cuda::block_elements - 1) / adam_cuda::block_elements;
  }
  if (table.count > 0) adam_cuda::launch_update_all(table, blocks);
}

}  // namespace sbgan::kernels
