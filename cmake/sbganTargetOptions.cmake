# Build settings for sbgan's own targets (tests, examples, benchmarks).
# Nothing here is attached to sbgan::sbgan / sbgan::cuda, so consumers only get
# what the interface targets require (C++20, include paths, dependencies).

include_guard(GLOBAL)

# GCC 12.0-12.2 warn about the `__m512 __Y = __Y;` idiom inside their own
# AVX-512 intrinsics headers once inlined into Eigen (GCC bug 105593); only
# relevant with -march=native on an AVX-512 machine.
set(_sbgan_gcc12_avx512_workaround OFF)
if(SBGAN_NATIVE_ARCH AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU"
   AND CMAKE_CXX_COMPILER_VERSION VERSION_GREATER_EQUAL 12
   AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 12.3)
  set(_sbgan_gcc12_avx512_workaround ON)
endif()

# sbgan_configure_target(<target>)
#   C++:  -Wall -Wextra -Wpedantic, plus -march=native when SBGAN_NATIVE_ARCH.
#   CUDA: -Xcompiler=-Wall,-Wextra and --expt-relaxed-constexpr, plus
#         -Xcompiler=-march=native when SBGAN_NATIVE_ARCH (host code must agree
#         with the C++ objects, e.g. on Eigen's alignment).
function(sbgan_configure_target target)
  if(MSVC)
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:/W4 /permissive->)
  else()
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic>)
    if(SBGAN_NATIVE_ARCH)
      target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-march=native>)
    endif()
    if(_sbgan_gcc12_avx512_workaround)
      target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-Wno-maybe-uninitialized>)
    endif()
  endif()
  if(SBGAN_WITH_CUDA)
    target_compile_options(${target} PRIVATE
      $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra --expt-relaxed-constexpr>)
    if(SBGAN_NATIVE_ARCH)
      target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-march=native>)
    endif()
    if(_sbgan_gcc12_avx512_workaround)
      target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wno-maybe-uninitialized>)
    endif()
  endif()
endfunction()
