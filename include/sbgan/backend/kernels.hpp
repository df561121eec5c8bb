#pragma once
// Every kernel the layers call, for every backend compiled in. Layers call
// sbgan::kernels::name(tensors...) and overload resolution on the backend tag of
// the tensors picks the implementation; a layer used with a backend that lacks a
// kernel fails to compile at that call.
#include "sbgan/backend/gemm_kernel_declarations.hpp"
#include "sbgan/backend/cpu/activation.hpp"
#include "sbgan/backend/cpu/adam.hpp"
#include "sbgan/backend/cpu/concat.hpp"
#include "sbgan/backend/cpu/elementwise.hpp"
#include "sbgan/backend/cpu/gumbel_softmax.hpp"
#include "sbgan/backend/cpu/l1_distance.hpp"
#include "sbgan/backend/cpu/loss.hpp"
#include "sbgan/backend/cpu/max_pool.hpp"
#include "sbgan/backend/cpu/minibatch_stddev.hpp"
#include "sbgan/backend/cpu/modulation.hpp"
#include "sbgan/backend/cpu/normalization.hpp"
#include "sbgan/backend/cpu/pixel_norm.hpp"
#include "sbgan/backend/cpu/pool.hpp"
#include "sbgan/backend/cpu/random.hpp"
#include "sbgan/backend/cpu/resize.hpp"
#include "sbgan/backend/cpu/softmax.hpp"
#include "sbgan/backend/cpu/softmax_second.hpp"
#include "sbgan/backend/cpu/spectral_norm.hpp"
#include "sbgan/backend/cpu/statistics.hpp"
// The GEMM-based CPU kernels use Eigen, which stays out of nvcc translation units
// (its device annotations clash with ours); .cu files use the CUDA kernels.
#if !defined(__CUDACC__)
#include "sbgan/backend/cpu/conv2d.hpp"
#include "sbgan/backend/cpu/linear.hpp"
#elif defined(SBGAN_EXTERN_CPU_GEMM)
// CUDA tests that run the CPU layers as the reference link them from a host unit.
#include "sbgan/backend/cpu/gemm_extern.hpp"
#endif
#if defined(SBGAN_WITH_CUDA)
#include "sbgan/backend/cuda/kernels.hpp"
#endif
