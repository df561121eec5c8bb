#pragma once
// Row-major Eigen views of raw buffers: the GEMMs of convolution and linear layers.
#include <Eigen/Core>

#include "sbgan/core/shape.hpp"

namespace sbgan::cpu_detail {

template <class T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
Eigen::Map<RowMatrix<T>> matrix(T* data, index_t rows, index_t cols) {
  return Eigen::Map<RowMatrix<T>>(data, rows, cols);
}
template <class T>
Eigen::Map<const RowMatrix<T>> matrix(const T* data, index_t rows, index_t cols) {
  return Eigen::Map<const RowMatrix<T>>(data, rows, cols);
}

template <class T>
Eigen::Map<Eigen::Matrix<T, 1, Eigen::Dynamic>> row_vector(T* data, index_t size) {
  return Eigen::Map<Eigen::Matrix<T, 1, Eigen::Dynamic>>(data, size);
}
template <class T>
Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic>> row_vector(const T* data, index_t size) {
  return Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic>>(data, size);
}

}  // namespace sbgan::cpu_detail
