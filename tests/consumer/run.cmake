# Driver for the ctest test "install_and_consume" (run with cmake -P).
#
#   1. cmake --install <SBGAN_BUILD_DIR> --prefix <SBGAN_WORK_DIR>/prefix
#   2. configure tests/consumer against that prefix (CMAKE_PREFIX_PATH)
#   3. build it and run the resulting program
#
# Any failing step (or a non-zero exit of the program) fails the test.
#
# Inputs (-D...): SBGAN_BUILD_DIR, SBGAN_CONSUMER_SOURCE_DIR, SBGAN_WORK_DIR,
# and optionally SBGAN_CONFIG, SBGAN_GENERATOR, SBGAN_MAKE_PROGRAM,
# SBGAN_CXX_COMPILER, SBGAN_EXPECT_CUDA.
cmake_minimum_required(VERSION 3.25)

foreach(var IN ITEMS SBGAN_BUILD_DIR SBGAN_CONSUMER_SOURCE_DIR SBGAN_WORK_DIR)
  if(NOT ${var})
    message(FATAL_ERROR "run.cmake: -D${var}=... is required")
  endif()
endforeach()
if(NOT SBGAN_CONFIG)
  set(SBGAN_CONFIG Release)
endif()

set(prefix "${SBGAN_WORK_DIR}/prefix")
set(build "${SBGAN_WORK_DIR}/build")
file(REMOVE_RECURSE "${SBGAN_WORK_DIR}")
file(MAKE_DIRECTORY "${SBGAN_WORK_DIR}")

function(step name)
  message(STATUS "install_and_consume: ${name}: ${ARGN}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "install_and_consume: ${name} failed (${rc})")
  endif()
endfunction()

step(install "${CMAKE_COMMAND}" --install "${SBGAN_BUILD_DIR}" --prefix "${prefix}" --config "${SBGAN_CONFIG}")

set(configure_args
  -S "${SBGAN_CONSUMER_SOURCE_DIR}"
  -B "${build}"
  "-DCMAKE_PREFIX_PATH=${prefix}"
  "-DCMAKE_BUILD_TYPE=${SBGAN_CONFIG}"
  "-DCMAKE_FIND_PACKAGE_PREFER_CONFIG=ON")
if(SBGAN_GENERATOR)
  list(APPEND configure_args -G "${SBGAN_GENERATOR}")
endif()
if(SBGAN_MAKE_PROGRAM)
  list(APPEND configure_args "-DCMAKE_MAKE_PROGRAM=${SBGAN_MAKE_PROGRAM}")
endif()
if(SBGAN_CXX_COMPILER)
  list(APPEND configure_args "-DCMAKE_CXX_COMPILER=${SBGAN_CXX_COMPILER}")
endif()
if(DEFINED SBGAN_EXPECT_CUDA)
  if(SBGAN_EXPECT_CUDA)
    list(APPEND configure_args -DEXPECT_CUDA=ON)
  else()
    list(APPEND configure_args -DEXPECT_CUDA=OFF)
  endif()
endif()
step(configure "${CMAKE_COMMAND}" ${configure_args})

step(build "${CMAKE_COMMAND}" --build "${build}" --config "${SBGAN_CONFIG}")

# Single-config generators put the program in the build dir, multi-config ones
# in a per-configuration subdirectory.
set(exe "${build}/consumer${CMAKE_EXECUTABLE_SUFFIX}")
if(NOT EXISTS "${exe}")
  set(exe "${build}/${SBGAN_CONFIG}/consumer${CMAKE_EXECUTABLE_SUFFIX}")
endif()
step(run "${exe}")

message(STATUS "install_and_consume: passed")
