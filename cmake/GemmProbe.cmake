# The GEMM back end of ds::gemm (common/gemm.hpp): Eigen's kernels, or OpenBLAS's when the
# system has it, chosen by measurement on this machine. DS_GEMM=auto (the default) compiles
# cmake/gemm_probe.cpp with the project's flags, runs it once and keeps the faster back end in
# the cache (DS_GEMM_PROBED); -DDS_GEMM=eigen|openblas forces one, -DDS_GEMM_PROBED= re-probes.
# Sets ds_gemm_definitions and ds_gemm_include_dirs for common/gemm.cpp, ds_gemm_libraries for ds_common.
set(DS_GEMM "auto" CACHE STRING "GEMM back end: auto (the faster on this machine, measured at configure time), eigen or openblas")
set_property(CACHE DS_GEMM PROPERTY STRINGS auto eigen openblas)
if(NOT DS_GEMM MATCHES "^(auto|eigen|openblas)$")
  message(FATAL_ERROR "DS_GEMM must be auto, eigen or openblas, not '${DS_GEMM}'")
endif()

set(ds_gemm_definitions "")
set(ds_gemm_libraries "")
set(ds_gemm_include_dirs "")
set(BLA_VENDOR OpenBLAS)
find_package(BLAS QUIET)
find_path(DS_CBLAS_INCLUDE_DIR cblas.h PATH_SUFFIXES openblas)
if(BLAS_FOUND AND DS_CBLAS_INCLUDE_DIR)
  list(APPEND ds_gemm_definitions DS_HAVE_OPENBLAS=1)
  set(ds_gemm_libraries BLAS::BLAS)
  set(ds_gemm_include_dirs ${DS_CBLAS_INCLUDE_DIR})
  message(STATUS "GEMM: OpenBLAS found (${BLAS_LIBRARIES})")
elseif(DS_GEMM STREQUAL "openblas")
  message(FATAL_ERROR "DS_GEMM=openblas, but no OpenBLAS was found (Debian: apt-get install libopenblas-dev)")
else()
  message(STATUS "GEMM: no OpenBLAS found; Eigen's kernels only")
endif()

if(DS_GEMM STREQUAL "auto" AND NOT ds_gemm_libraries)
  set(ds_gemm_choice eigen)
  set(ds_gemm_origin "the only back end of this build (no OpenBLAS found at configure time)")
elseif(DS_GEMM STREQUAL "auto")
  if(NOT DS_GEMM_PROBED)
    set(probe_flags -O3)
    if(CMAKE_BUILD_TYPE STREQUAL "Release" AND DS_NATIVE)
      list(APPEND probe_flags -march=native)
    endif()
    message(STATUS "GEMM: timing Eigen and OpenBLAS on this machine (about a second)")
    try_run(probe_run probe_compiled ${CMAKE_BINARY_DIR}/gemm_probe
            SOURCES ${CMAKE_SOURCE_DIR}/cmake/gemm_probe.cpp ${CMAKE_SOURCE_DIR}/common/gemm.cpp
                    ${CMAKE_SOURCE_DIR}/common/gemm_bf16.cpp
            CMAKE_FLAGS "-DINCLUDE_DIRECTORIES=${CMAKE_SOURCE_DIR};${DS_CBLAS_INCLUDE_DIR}"
            COMPILE_DEFINITIONS ${probe_flags} -DDS_HAVE_OPENBLAS=1
            LINK_LIBRARIES Eigen3::Eigen OpenMP::OpenMP_CXX BLAS::BLAS
            CXX_STANDARD 20
            COMPILE_OUTPUT_VARIABLE probe_compile_log
            RUN_OUTPUT_VARIABLE probe_out)
    if(NOT probe_compiled OR NOT probe_run EQUAL 0)
      message(WARNING "GEMM: the back-end probe did not build or run; using Eigen's kernels\n${probe_compile_log}")
      set(probe_out "choice eigen\n")
    endif()
    string(REGEX MATCH "choice ([a-z]+)" _ "${probe_out}")
    set(choice ${CMAKE_MATCH_1})
    string(REGEX REPLACE "\nchoice [a-z]+\n?$" "" figures "${probe_out}")
    string(REPLACE "\n" " GFLOP/s, " figures "${figures}")
    set(DS_GEMM_PROBED "${choice};${figures} GFLOP/s" CACHE STRING "The configure-time GEMM probe's choice and figures (clear it to probe again)" FORCE)
  endif()
  list(GET DS_GEMM_PROBED 0 ds_gemm_choice)
  list(GET DS_GEMM_PROBED 1 figures)
  set(ds_gemm_origin "configure-time probe on one thread: ${figures}")
else()
  set(ds_gemm_choice ${DS_GEMM})
  set(ds_gemm_origin "forced at configure time (-DDS_GEMM=${DS_GEMM})")
endif()
message(STATUS "GEMM: back end ${ds_gemm_choice}: ${ds_gemm_origin}")
list(APPEND ds_gemm_definitions "DS_GEMM_DEFAULT=\"${ds_gemm_choice}\"" "DS_GEMM_ORIGIN=\"${ds_gemm_origin}\"")
