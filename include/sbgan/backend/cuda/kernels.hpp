#pragma once
// CUDA kernels, visible to translation units compiled by nvcc, with the CPU
// kernels' names and contracts (sbgan/backend/cpu/*.hpp), overloaded on
// Tensor<T, cuda>. Host-only translation units that enable CUDA get device memory
// and transfers but no kernels (and never Eigen in a .cu file: the Eigen-based CPU
// kernels are not included by nvcc units).
#include "sbgan/backend/cuda/memory.hpp"
#include "sbgan/backend/cuda/stream.hpp"
#include "sbgan/backend/cuda/transfer.hpp"
#if defined(__CUDACC__)
#include "sbgan/backend/cuda/reduce.cuh"
// Element-wise, shape and random kernels
#include "sbgan/backend/cuda/activation.cuh"
#include "sbgan/backend/cuda/concat.cuh"
#include "sbgan/backend/cuda/elementwise.cuh"
#include "sbgan/backend/cuda/gumbel_softmax.cuh"
#include "sbgan/backend/cuda/l1_distance.cuh"
#include "sbgan/backend/cuda/max_pool.cuh"
#include "sbgan/backend/cuda/modulation.cuh"
#include "sbgan/backend/cuda/pool.cuh"
#include "sbgan/backend/cuda/random.cuh"
#include "sbgan/backend/cuda/resize.cuh"
#include "sbgan/backend/cuda/softmax.cuh"
#include "sbgan/backend/cuda/softmax_second.cuh"
// Normalisation, statistics, losses and the optimizer
#include "sbgan/backend/cuda/adam.cuh"
#include "sbgan/backend/cuda/loss.cuh"
#include "sbgan/backend/cuda/minibatch_stddev.cuh"
#include "sbgan/backend/cuda/normalization.cuh"
#include "sbgan/backend/cuda/pixel_norm.cuh"
#include "sbgan/backend/cuda/spectral_norm.cuh"
#include "sbgan/backend/cuda/statistics.cuh"
// cuDNN convolutions and cuBLAS GEMMs
#include "sbgan/backend/cuda/conv2d.hpp"
#include "sbgan/backend/cuda/linear.hpp"
#endif
