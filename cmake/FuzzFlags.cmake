# DS_FUZZ: every library is compiled for libFuzzer (coverage counters) with ASan + UBSan, so the
# fuzz targets in fuzz/ see inside the readers they drive. libFuzzer ships with clang only.
if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR
    "DS_FUZZ=ON needs clang (libFuzzer is part of clang; ${CMAKE_CXX_COMPILER_ID} has none). "
    "Configure a fresh build folder with `cmake --preset fuzz` (clang++, build-fuzz/); "
    "`./scripts/install-deps.sh --with-fuzz` installs Debian's clang. See fuzz/README.md.")
endif()
add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
                    -fno-omit-frame-pointer -g)
# Sanitizers stop some `omp simd` loops from vectorising; that is expected here, not news.
add_compile_options(-Wno-pass-failed)
add_link_options(-fsanitize=address,undefined)
