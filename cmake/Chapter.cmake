# ds_chapter(NAME DEPS...): one chapter folder = one library (ds_NAME) from its *.cpp,
# one program per programs/*.cpp (bin/NAME_<file>), and one doctest executable from tests/*.cpp
# whose test cases ctest runs one by one.
function(ds_chapter name)
  set(deps ${ARGN})
  file(GLOB lib_src CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
  # MPI code (mpi.cpp, *_mpi.cpp) goes into a separate target that a chapter builds only when
  # find_package(MPI) succeeds, so that everything else builds without MPI.
  list(FILTER lib_src EXCLUDE REGEX "(/|_)mpi\\.cpp$")
  add_library(ds_${name} STATIC ${lib_src})
  target_include_directories(ds_${name} PUBLIC ${CMAKE_SOURCE_DIR})
  target_link_libraries(ds_${name} PUBLIC ${deps})

  file(GLOB programs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/programs/*.cpp)
  foreach(p ${programs})
    get_filename_component(stem ${p} NAME_WE)
    add_executable(${name}_${stem} ${p})
    target_link_libraries(${name}_${stem} PRIVATE ds_${name})
  endforeach()

  file(GLOB tests CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/tests/*.cpp)
  if(tests)
    # ctest's discovery splits a test name at ';' (a CMake list separator), so such a test case
    # would silently never run under ctest.
    foreach(t ${tests})
      file(STRINGS ${t} bad REGEX "TEST_CASE\\(\"[^\"]*;")
      if(bad)
        message(FATAL_ERROR "${t}: a TEST_CASE name contains ';', which ctest cannot run; use ',' instead")
      endif()
    endforeach()
    add_executable(test_${name} ${tests} ${CMAKE_SOURCE_DIR}/cmake/doctest_main.cpp)
    target_link_libraries(test_${name} PRIVATE ds_${name} doctest::doctest)
    target_compile_definitions(test_${name} PRIVATE
      DS_SOURCE_DIR="${CMAKE_SOURCE_DIR}" DS_BIN_DIR="${CMAKE_BINARY_DIR}/bin")
    # Each build folder gets its own temp dir: the smoke tests write to fixed names under it, and
    # two suites at once (release and asan, or two checkouts) would delete each other's output.
    file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/tmp)
    doctest_discover_tests(test_${name} TEST_PREFIX "${name}: "
      WORKING_DIRECTORY ${CMAKE_BINARY_DIR} PROPERTIES TIMEOUT 600 ENVIRONMENT "TMPDIR=${CMAKE_BINARY_DIR}/tmp")
  endif()
endfunction()
