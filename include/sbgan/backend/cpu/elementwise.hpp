#pragma once
// Element-wise CPU kernels. Functions named *_into add their result to the output
// (the accumulate contract of backward passes); the others assign.
#include <cmath>
#include <vector>

#include "sbgan/backend/cpu/parallel.hpp"
#include "sbgan/core/error.hpp"
#include "sbgan/core/tensor.hpp"

namespace sbgan::kernels {

namespace cpu_detail_ew {
template <class T>
void same_size(const char* kernel, const Tensor<T, cpu>& a, const Tensor<T, cpu>& b) {
  if (a.numel() != b.numel())
    throw shape_error(std::string(kernel) + ": operands differ in size, " + a.shape().str() +
                      " vs " + b.shape().str());
}
}  // namespace cpu_detail_ew

// Applies out[i] = f(i) over the whole tensor, in parallel chunks.
template <class T, class F>
void generate(Tensor<T, cpu>& out, F&& f) {
  T* o = out.data();
  cpu_detail::parallel_chunks(out.numel(), [&](index_t b, index_t e) {
    for (index_t i = b; i < e; ++i) o[i] = f(i);
  });
}

template <class T>
void fill(Tensor<T, cpu>& t, T value) {
  generate(t, [value](index_t) { return value; });
}

template <class T>
void copy(const Tensor<T, cpu>& src, Tensor<T, cpu>& dst) {
  cpu_detail_ew::same_size("copy", src, dst);
  const T* s = src.data();
  generate(dst, [s](index_t i) { return s[i]; });
}

// y += alpha * x
template <class T>
void axpy(T alpha, const Tensor<T, cpu>& x, Tensor<T, cpu>& y) {
  cpu_detail_ew::same_size("axpy", x, y);
  const T* xs = x.data();
  T* ys = y.data();
  cpu_detail::parallel_chunks(y.numel(), [&](index_t b, index_t e) {
    for (index_t i = b; i < e; ++i) ys[i] += alpha * xs[i];
  });
}

// x *= alpha
template <class T>
void scale(Tensor<T, cpu>& x, T alpha) {
  T* xs = x.data();
  cpu_detail::parallel_chunks(x.numel(), [&](index_t b, index_t e) {
    for (index_t i = b; i < e; ++i) xs[i] *= alpha;
  });
}

// out = a + b
template <class T>
void add(const Tensor<T, cpu>& a, const Tensor<T, cpu>& b, Tensor<T, cpu>& out) {
  cpu_detail_ew::same_size("add", a, b);
  cpu_detail_ew::same_size("add", a, out);
  const T *as = a.data(), *bs = b.data();
  generate(out, [as, bs](index_t i) { return as[i] + bs[i]; });
}

// out = a * b (element-wise)
template <class T>
void multiply(const Tensor<T, cpu>& a, const Tensor<T, cpu>& b, Tensor<T, cpu>& out) {
  cpu_detail_ew::same_size("multiply", a, b);
  cpu_detail_ew::same_size("multiply", a, out);
  const T *as = a.data(), *bs = b.data();
  generate(out, [as, bs](index_t i) { return as[i] * bs[i]; });
}

// Σ a·b, accumulated in double.
template <class T>
double dot(const Tensor<T, cpu>& a, const Tensor<T, cpu>& b) {
  cpu_detail_ew::same_size("dot", a, b);
  double s = 0;
  const T *as = a.data(), *bs = b.data();
  for (index_t i = 0; i < a.numel(); ++i) s += static_cast<double>(as[i]) * bs[i];
  return s;
}

template <class T>
double sum(const Tensor<T, cpu>& a) {
  double s = 0;
  for (T v : a) s += v;
  return s;
}

template <class T>
bool all_finite(const Tensor<T, cpu>& a) {
  for (T v : a)
    if (!std::isfinite(v)) return false;
  return true;
}

}  // namespace sbgan::kernels
