#pragma once
// Marks functions that run on both the host and a CUDA device (the RNG, small math).
#if defined(__CUDACC__)
#define SBGAN_HOST_DEVICE __host__ __device__
#else
#define SBGAN_HOST_DEVICE
#endif
