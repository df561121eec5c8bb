#pragma once
// CUDA kernels, visible to translation units compiled by nvcc. Host-only
// translation units that enable CUDA get device memory and transfers but no
// kernels (and never Eigen in a .cu file: the CPU kernels are not included here).
#include "sbgan/backend/cuda/memory.hpp"
#include "sbgan/backend/cuda/transfer.hpp"
#if defined(__CUDACC__)
#include "sbgan/backend/cuda/elementwise.cuh"
#include "sbgan/backend/cuda/random.cuh"
#endif
