// The CPU GEMM kernels for the CUDA test program: its nvcc units see only their
// declarations (sbgan/backend/cpu/gemm_extern.hpp, under SBGAN_EXTERN_CPU_GEMM);
// this host unit compiles the Eigen-based definitions and instantiates them.
#include "sbgan/backend/cpu/gemm_extern.hpp"
#include "sbgan/backend/cpu/conv2d.hpp"
#include "sbgan/backend/cpu/linear.hpp"

namespace sbgan::kernels {

SBGAN_CPU_GEMM_INSTANCES(template, float)
SBGAN_CPU_GEMM_INSTANCES(template, double)

}  // namespace sbgan::kernels
