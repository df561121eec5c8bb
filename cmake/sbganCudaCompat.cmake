# CMake releases before 3.25.2 do not know nvcc's C++20 flag, so CUDA_STANDARD
# 20 / cuda_std_20 fail with "does not support this, or CMake does not know
# the flags to enable it". Teach them. Included by sbgan's build before
# enable_language(CUDA) and by the package config (for consumers that already
# enabled CUDA).
if(CMAKE_VERSION VERSION_LESS 3.25.2)
  if(NOT DEFINED CMAKE_CUDA20_STANDARD_COMPILE_OPTION)
    set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
    set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
  endif()
  if(CMAKE_CUDA_COMPILER_LOADED AND CMAKE_CUDA_COMPILER_ID STREQUAL "NVIDIA"
     AND CMAKE_CUDA_COMPILER_VERSION VERSION_GREATER_EQUAL 12.0
     AND NOT "cuda_std_20" IN_LIST CMAKE_CUDA_COMPILE_FEATURES)
    list(APPEND CMAKE_CUDA_COMPILE_FEATURES cuda_std_20)
    set(CMAKE_CUDA20_COMPILE_FEATURES cuda_std_20)
  endif()
endif()
