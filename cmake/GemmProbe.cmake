# The GEMM back end of ds::gemm (common/gemm.hpp): Eigen's kernels, or OpenBLAS's when the
# system has it, chosen by measurement on this machine (oneDNN's is measured too, but chosen only
# when forced: gemm_choose in common/gemm.cpp says why). DS_GEMM=auto (the default) compiles
# cmake/gemm_probe.cpp with the project's flags, runs it once and keeps the faster back end in the
# cache (DS_GEMM_PROBED); -DDS_GEMM=eigen|openblas|onednn forces one, -DDS_GEMM_PROBED= re-probes.
# Sets ds_gemm_definitions and ds_gemm_include_dirs for common/gemm.cpp, ds_gemm_libraries for
# ds_common, DS_DNNL_INCLUDE_DIR / DS_DNNL_LIBRARY where oneDNN is found (common/gemm_onednn.cpp).
set(DS_GEMM "auto" CACHE STRING "GEMM back end: auto (Eigen or OpenBLAS, the faster on this machine, measured at configure time), eigen, openblas or onednn")
set_property(CACHE DS_GEMM PROPERTY STRINGS auto eigen openblas onednn)
if(NOT DS_GEMM MATCHES "^(auto|eigen|openblas|onednn)$")
  message(FATAL_ERROR "DS_GEMM must be auto, eigen, openblas or onednn, not '${DS_GEMM}'")
endif()

# oneDNN (Debian: libdnnl-dev), found by its header and library: Debian's dnnl-config.cmake also
# demands OpenCL's headers. Optional: without it there is no BF16 precision and no onednn back end.
find_path(DS_DNNL_INCLUDE_DIR oneapi/dnnl/dnnl.hpp)
find_library(DS_DNNL_LIBRARY dnnl)
set(ds_probe_dnnl_flags "")
set(ds_probe_dnnl_libs "")
if(DS_DNNL_INCLUDE_DIR AND DS_DNNL_LIBRARY)
  message(STATUS "GEMM: oneDNN found (${DS_DNNL_LIBRARY}): BF16 GEMMs and the onednn back end")
  set(ds_probe_dnnl_flags -DDS_HAVE_DNNL=1)
  set(ds_probe_dnnl_libs ${DS_DNNL_LIBRARY})
elseif(DS_GEMM STREQUAL "onednn")
  message(FATAL_ERROR "DS_GEMM=onednn, but no oneDNN was found (Debian: apt-get install libdnnl-dev)")
else()
  message(STATUS "GEMM: no oneDNN found (libdnnl-dev): no BF16 precision, no onednn back end")
endif()

set(ds_gemm_definitions "")
set(ds_gemm_libraries "")
set(ds_gemm_include_dirs "")
set(ds_probe_openblas_flags "")
set(BLA_VENDOR OpenBLAS)
find_package(BLAS QUIET)
find_path(DS_CBLAS_INCLUDE_DIR cblas.h PATH_SUFFIXES openblas)
if(BLAS_FOUND AND DS_CBLAS_INCLUDE_DIR)
  list(APPEND ds_gemm_definitions DS_HAVE_OPENBLAS=1)
  set(ds_probe_openblas_flags -DDS_HAVE_OPENBLAS=1)
  set(ds_gemm_libraries BLAS::BLAS)
  set(ds_gemm_include_dirs ${DS_CBLAS_INCLUDE_DIR})
  message(STATUS "GEMM: OpenBLAS found (${BLAS_LIBRARIES})")
elseif(DS_GEMM STREQUAL "openblas")
  message(FATAL_ERROR "DS_GEMM=openblas, but no OpenBLAS was found (Debian: apt-get install libopenblas-dev)")
else()
  message(STATUS "GEMM: no OpenBLAS found; Eigen's kernels only")
endif()

if(DS_GEMM STREQUAL "auto" AND NOT ds_gemm_libraries AND NOT ds_probe_dnnl_libs)
  set(ds_gemm_choice eigen)
  set(ds_gemm_origin "the only back end of this build (no OpenBLAS or oneDNN found at configure time)")
elseif(DS_GEMM STREQUAL "auto")
  if(NOT DS_GEMM_PROBED)
    set(probe_flags -O3)
    if(CMAKE_BUILD_TYPE STREQUAL "Release" AND DS_NATIVE)
      list(APPEND probe_flags -march=native)
    endif()
    message(STATUS "GEMM: timing Eigen, OpenBLAS and oneDNN (those found) on this machine (about a second)")
    try_run(probe_run probe_compiled ${CMAKE_BINARY_DIR}/gemm_probe
            SOURCES ${CMAKE_SOURCE_DIR}/cmake/gemm_probe.cpp ${CMAKE_SOURCE_DIR}/common/gemm.cpp
                    ${CMAKE_SOURCE_DIR}/common/gemm_onednn.cpp
            CMAKE_FLAGS "-DINCLUDE_DIRECTORIES=${CMAKE_SOURCE_DIR};${DS_CBLAS_INCLUDE_DIR};${DS_DNNL_INCLUDE_DIR}"
            COMPILE_DEFINITIONS ${probe_flags} ${ds_probe_openblas_flags} ${ds_probe_dnnl_flags}
            LINK_LIBRARIES Eigen3::Eigen OpenMP::OpenMP_CXX ${ds_gemm_libraries} ${ds_probe_dnnl_libs}
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
