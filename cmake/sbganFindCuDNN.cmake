# Locates cuDNN and defines the imported target sbgan::cudnn.
#
# Used both by sbgan's own build and by the installed package config, so that
# the exported sbgan::cuda target never carries an absolute path to cuDNN.
#
# Search hints, all optional: the CUDNN_ROOT / CUDNN_PATH / CUDA_PATH /
# CUDA_HOME environment variables, the CUDNN_ROOT and CUDAToolkit_ROOT CMake
# variables, the variables FindCUDAToolkit sets (CUDAToolkit_LIBRARY_DIR,
# CUDAToolkit_INCLUDE_DIRS, CUDAToolkit_LIBRARY_ROOT), SBGAN_CUDA_ROOT, and
# /usr/local/cuda.
#
# Results: SBGAN_CUDNN_FOUND, SBGAN_CUDNN_VERSION, the cache entries
# SBGAN_CUDNN_INCLUDE_DIR and SBGAN_CUDNN_LIBRARY, and the target sbgan::cudnn.

if(TARGET sbgan::cudnn)
  set(SBGAN_CUDNN_FOUND TRUE)
  return()
endif()

set(_sbgan_cudnn_roots)
foreach(_sbgan_env IN ITEMS CUDNN_ROOT CUDNN_PATH CUDA_PATH CUDA_HOME)
  if(DEFINED ENV{${_sbgan_env}})
    list(APPEND _sbgan_cudnn_roots "$ENV{${_sbgan_env}}")
  endif()
endforeach()
foreach(_sbgan_var IN ITEMS CUDNN_ROOT CUDAToolkit_ROOT CUDAToolkit_LIBRARY_ROOT SBGAN_CUDA_ROOT)
  if(${_sbgan_var})
    list(APPEND _sbgan_cudnn_roots "${${_sbgan_var}}")
  endif()
endforeach()
list(APPEND _sbgan_cudnn_roots /usr/local/cuda)

set(_sbgan_cudnn_suffixes "" targets/x86_64-linux targets/sbsa-linux targets/aarch64-linux)
set(_sbgan_cudnn_inc_suffixes)
set(_sbgan_cudnn_lib_suffixes)
foreach(_sbgan_s IN LISTS _sbgan_cudnn_suffixes)
  if(_sbgan_s)
    set(_sbgan_s "${_sbgan_s}/")
  endif()
  list(APPEND _sbgan_cudnn_inc_suffixes "${_sbgan_s}include")
  list(APPEND _sbgan_cudnn_lib_suffixes "${_sbgan_s}lib64" "${_sbgan_s}lib" "${_sbgan_s}lib/x64")
endforeach()

find_path(SBGAN_CUDNN_INCLUDE_DIR cudnn.h
  HINTS ${CUDAToolkit_INCLUDE_DIRS} ${_sbgan_cudnn_roots}
  PATH_SUFFIXES ${_sbgan_cudnn_inc_suffixes}
  DOC "Directory that holds cudnn.h")
find_library(SBGAN_CUDNN_LIBRARY cudnn
  HINTS ${CUDAToolkit_LIBRARY_DIR} ${_sbgan_cudnn_roots}
  PATH_SUFFIXES ${_sbgan_cudnn_lib_suffixes}
  DOC "The cuDNN library (libcudnn)")
mark_as_advanced(SBGAN_CUDNN_INCLUDE_DIR SBGAN_CUDNN_LIBRARY)

set(SBGAN_CUDNN_FOUND FALSE)
set(SBGAN_CUDNN_VERSION "")
if(SBGAN_CUDNN_INCLUDE_DIR AND SBGAN_CUDNN_LIBRARY)
  set(SBGAN_CUDNN_FOUND TRUE)
  foreach(_sbgan_h IN ITEMS cudnn_version.h cudnn.h)
    if(EXISTS "${SBGAN_CUDNN_INCLUDE_DIR}/${_sbgan_h}")
      file(STRINGS "${SBGAN_CUDNN_INCLUDE_DIR}/${_sbgan_h}" _sbgan_cudnn_defs
           REGEX "^#define CUDNN_(MAJOR|MINOR|PATCHLEVEL) +[0-9]+")
      if(_sbgan_cudnn_defs)
        string(REGEX REPLACE ".*CUDNN_MAJOR +([0-9]+).*" "\\1" _sbgan_major "${_sbgan_cudnn_defs}")
        string(REGEX REPLACE ".*CUDNN_MINOR +([0-9]+).*" "\\1" _sbgan_minor "${_sbgan_cudnn_defs}")
        string(REGEX REPLACE ".*CUDNN_PATCHLEVEL +([0-9]+).*" "\\1" _sbgan_patch "${_sbgan_cudnn_defs}")
        set(SBGAN_CUDNN_VERSION "${_sbgan_major}.${_sbgan_minor}.${_sbgan_patch}")
        break()
      endif()
    endif()
  endforeach()

  add_library(sbgan::cudnn UNKNOWN IMPORTED)
  set_target_properties(sbgan::cudnn PROPERTIES
    IMPORTED_LOCATION "${SBGAN_CUDNN_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${SBGAN_CUDNN_INCLUDE_DIR}")
endif()

unset(_sbgan_cudnn_roots)
unset(_sbgan_cudnn_suffixes)
unset(_sbgan_cudnn_inc_suffixes)
unset(_sbgan_cudnn_lib_suffixes)
unset(_sbgan_cudnn_defs)
