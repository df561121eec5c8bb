#pragma once
// Per-group sums in double on the device, for kernels whose groups (a
// normalization channel or instance, a sample, a matrix row) each need a few sums
// before their elements can be written.
//
// A group is `segments` runs of `length` consecutive elements. A long group is
// split over several blocks whose partial sums are added in a fixed order, and
// every block reduces in a fixed order, so results are the same run to run.
// When a group fits one block, the block that sums it also finishes or updates it
// (one launch); otherwise the partials go through device memory and are combined
// (two launches, three with an update pass).
#include <cuda_runtime.h>

#include <cstddef>
#include <type_traits>

#include "sbgan/backend/cuda/check.hpp"
#include "sbgan/backend/cuda/stream.hpp"
#include "sbgan/core/shape.hpp"
#include "sbgan/core/tensor.hpp"

namespace sbgan::cuda_detail {

inline constexpr int group_threads = 256;
static_assert(group_threads % 32 == 0, "whole warps");

// Sums each of v[0..K) over the block; every thread of the block must call it
// (blockDim.x == group_threads), and every thread gets the totals.
template <int K>
__device__ void sum_across_block(double (&v)[K]) {
  constexpr int warps = group_threads / 32;
  __shared__ double warp_totals[K][warps];
  const int lane = static_cast<int>(threadIdx.x) % 32, warp = static_cast<int>(threadIdx.x) / 32;
  for (int k = 0; k < K; ++k)
    for (int offset = 16; offset > 0; offset /= 2) v[k] += __shfl_down_sync(0xffffffffu, v[k], offset);
  if (lane == 0)
    for (int k = 0; k < K; ++k) warp_totals[k][warp] = v[k];
  __syncthreads();
  for (int k = 0; k < K; ++k) {
    double total = 0;
    for (int w = 0; w < warps; ++w) total += warp_totals[k][w];
    v[k] = total;
  }
  __syncthreads();  // everyone has read the totals before a later call overwrites them
}

// Element (group, segment, r) lies at base + group·group_stride + segment·segment_stride + r.
struct GroupLayout {
  index_t count;           // groups
  index_t segments;        // runs per group
  index_t length;          // elements per run
  index_t group_stride;
  index_t segment_stride;
  index_t base = 0;

  [[nodiscard]] __host__ __device__ index_t size() const { return segments * length; }
  [[nodiscard]] __host__ __device__ index_t index(index_t group, index_t segment, index_t r) const {
    return base + group * group_stride + segment * segment_stride + r;
  }
};

// How the blocks share a group: `splits` blocks of `chunk` elements each.
struct GroupSplit {
  index_t splits, chunk;
};

// At least `min_chunk` elements per block (16 per thread) keeps blocks busy; at
// most max_splits keeps the sequential sum of partials short.
inline GroupSplit split_of(const GroupLayout& l) {
  constexpr index_t min_chunk = 16 * group_threads, max_splits = 512;
  const index_t size = l.size();
  index_t splits = (size + min_chunk - 1) / min_chunk;
  splits = splits < 1 ? 1 : (splits > max_splits ? max_splits : splits);
  return {splits, (size + splits - 1) / splits};
}

// Calls f(i) for the thread's share of elements [first, last) of `group`, in
// steps of the block size; the division is redone only when a run wraps.
template <class F>
__device__ void each_in_chunk(const GroupLayout& l, index_t group, index_t first, index_t last, F&& f) {
  index_t j = first + threadIdx.x;
  if (j >= last) return;
  index_t segment = j / l.length, r = j % l.length;
  for (; j < last; j += group_threads) {
    f(l.index(group, segment, r));
    r += group_threads;
    if (r >= l.length) {
      segment += r / l.length;
      r %= l.length;
    }
  }
}

// The group and element range of this block.
struct BlockShare {
  index_t group, split, first, last;
};
__device__ inline BlockShare block_share(const GroupLayout& l, const GroupSplit& s) {
  const index_t block = blockIdx.x, group = block / s.splits, split = block % s.splits;
  const index_t first = split * s.chunk, end = first + s.chunk;
  return {group, split, first, end < l.size() ? end : l.size()};
}

// Sums the block's share. With one block per group, every thread then runs
// update(group, i, totals) over the group (Update = std::nullptr_t: none) and
// thread 0 calls finish(group, totals); otherwise the partials go to `partial`.
template <int K, class Accumulate, class Finish, class Update>
__global__ void __launch_bounds__(group_threads)
    group_partials(GroupLayout l, GroupSplit s, Accumulate accumulate, Finish finish, Update update, double* partial) {
  const BlockShare b = block_share(l, s);
  double acc[K] = {};
  each_in_chunk(l, b.group, b.first, b.last, [&](index_t i) { accumulate(b.group, i, acc); });
  sum_across_block(acc);
  if (s.splits == 1) {
    if constexpr (!std::is_same_v<Update, std::nullptr_t>)
      each_in_chunk(l, b.group, b.first, b.last, [&](index_t i) { update(b.group, i, acc); });
    if (threadIdx.x == 0) finish(b.group, acc);
  } else if (threadIdx.x == 0) {
    for (int k = 0; k < K; ++k) partial[static_cast<index_t>(blockIdx.x) * K + k] = acc[k];
  }
}

// One thread per group adds its partials in split order (none: zero totals) and
// calls finish(group, totals).
template <int K, class Finish>
__global__ void combine_partials(index_t count, index_t splits, const double* partial, Finish finish) {
  for (index_t g = blockIdx.x * static_cast<index_t>(blockDim.x) + threadIdx.x; g < count;
       g += static_cast<index_t>(blockDim.x) * gridDim.x) {
    double total[K] = {};
    for (index_t sp = 0; sp < splits; ++sp)
      for (int k = 0; k < K; ++k) total[k] += partial[(g * splits + sp) * K + k];
    finish(g, total);
  }
}

// Every block runs update(group, i, totals) over its share, reading the group's
// totals from `totals` ([count, K]).
template <int K, class Update>
__global__ void __launch_bounds__(group_threads)
    group_update(GroupLayout l, GroupSplit s, const double* totals, Update update) {
  const BlockShare b = block_share(l, s);
  double t[K];
  for (int k = 0; k < K; ++k) t[k] = totals[b.group * K + k];
  each_in_chunk(l, b.group, b.first, b.last, [&](index_t i) { update(b.group, i, t); });
}

// Runs f(group, i) over the block's share.
template <class F>
__global__ void __launch_bounds__(group_threads) group_elements(GroupLayout l, GroupSplit s, F f) {
  const BlockShare b = block_share(l, s);
  each_in_chunk(l, b.group, b.first, b.last, [&](index_t i) { f(b.group, i); });
}

template <int K, class Finish>
void launch_combine(index_t count, index_t splits, const double* partial, Finish finish) {
  const index_t blocks = (count + group_threads - 1) / group_threads;
  combine_partials<K><<<static_cast<unsigned>(blocks < 65535 ? blocks : 65535), group_threads, 0, stream()>>>(
      count, splits, partial, finish);
  SBGAN_CUDA_CHECK(cudaGetLastError());
}

// Keeps a group's totals for the update kernel, then finishes the group.
template <int K, class Finish>
struct store_then_finish {
  double* totals;
  Finish finish;
  __device__ void operator()(index_t g, const double (&total)[K]) const {
    for (int k = 0; k < K; ++k) totals[g * K + k] = total[k];
    finish(g, total);
  }
};

// The general form: totals[k] = Σ over the group of what accumulate(group, i, acc)
// adds into acc[k]; then update(group, i, totals) for every element i of the group
// (unless Update is std::nullptr_t) and finish(group, totals) once per group, in
// no particular order between the two: finish must not touch what update reads or
// writes. accumulate, update and finish are __device__ lambdas or functors;
// accumulate and update are called exactly once per element.
template <int K, class Accumulate, class Finish, class Update>
void reduce_groups(const GroupLayout& l, Accumulate accumulate, Finish finish, Update update) {
  static_assert(K >= 1, "at least one sum");
  if (l.count == 0) return;
  if (l.size() == 0) {  // empty groups: zero totals, nothing to update
    launch_combine<K>(l.count, 0, nullptr, finish);
    return;
  }
  const GroupSplit s = split_of(l);
  const index_t blocks = l.count * s.splits;
  if (s.splits == 1) {
    group_partials<K><<<static_cast<unsigned>(blocks), group_threads, 0, stream()>>>(l, s, accumulate, finish, update,
                                                                                     nullptr);
    SBGAN_CUDA_CHECK(cudaGetLastError());
    return;
  }
  Tensor<double, cuda> partial(Shape{blocks * K});
  group_partials<K><<<static_cast<unsigned>(blocks), group_threads, 0, stream()>>>(l, s, accumulate, finish, update,
                                                                                   partial.data());
  SBGAN_CUDA_CHECK(cudaGetLastError());
  if constexpr (std::is_same_v<Update, std::nullptr_t>) {
    launch_combine<K>(l.count, s.splits, partial.data(), finish);
  } else {
    Tensor<double, cuda> totals(Shape{l.count * K});
    launch_combine<K>(l.count, s.splits, partial.data(), store_then_finish<K, Finish>{totals.data(), finish});
    group_update<K><<<static_cast<unsigned>(blocks), group_threads, 0, stream()>>>(l, s, totals.data(), update);
    SBGAN_CUDA_CHECK(cudaGetLastError());
  }
}

// A finish that does nothing.
struct no_finish {
  template <int K>
  __device__ void operator()(index_t, const double (&)[K]) const {}
};

// Sums only: finish(group, totals) once per group.
template <int K, class Accumulate, class Finish>
void reduce_groups(const GroupLayout& l, Accumulate accumulate, Finish finish) {
  reduce_groups<K>(l, accumulate, finish, nullptr);
}

// Runs f(group, i) for every element of every group (no sums).
template <class F>
void for_each_group_element(const GroupLayout& l, F f) {
  if (l.count == 0 || l.size() == 0) return;
  const GroupSplit s = split_of(l);
  group_elements<<<static_cast<unsigned>(l.count * s.splits), group_threads, 0, stream()>>>(l, s, f);
  SBGAN_CUDA_CHECK(cudaGetLastError());
}

}  // namespace sbgan::cuda_detail
