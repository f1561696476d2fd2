# dl_module(): one call declares a part of the project, as ns-3's build_lib does.
#
#   dl_module(<name>
#     [SOURCES <file>...]      library sources; none -> INTERFACE (header-only) library
#     [DEPS <target>...]       public link dependencies (other dl:: modules, imported targets)
#     [TESTS <file>...]        GoogleTest sources -> executable dl_<name>_test, registered with ctest
#     [TEST_DEPS <target>...]  extra link dependencies of the test executable
#     [FUZZ <file>...]         libFuzzer harnesses, one executable each (DL_FUZZ=ON, clang only);
#                              with DL_FUZZ the library gets libFuzzer's coverage instrumentation
#                              too (DL_FUZZ_COVERAGE), the tests and executables only ASan + UBSan
#     [BENCH <file>...]        Google Benchmark sources -> executable dl_<name>_bench (DL_BENCH=ON),
#                              outside the default build: `ci/build dl_benches` or the target's name
#     [EXECUTABLES <name>=<file>...]  programs built from this module (e.g. lnsd=src/lnsd_main.cpp)
#   )
#
# Layout it assumes (relative to the calling CMakeLists.txt):
#   include/   public headers (added to the include path of every dependent)
#   src/ test/ fuzz/ bench/  as listed in the call
#
# Creates target dl_<name> with alias dl::<name>. Project warnings (-Wall -Wextra -Werror…) apply to
# every target made here and to nothing else, so third-party headers never break the build.
include_guard(GLOBAL)

# Every Google Benchmark program of a BENCH list (DL_BENCH=ON), which the default build leaves out.
if(DL_BENCH AND NOT TARGET dl_benches)
  add_custom_target(dl_benches)
endif()

# A plain benchmark program (not Google Benchmark: its own main, figures in docs/performance.md),
# outside the default build like the BENCH lists: `ci/build dl_benches` builds every one,
# `ci/build <name>` one. Does nothing with DL_BENCH=OFF. Link it with target_link_libraries after.
function(dl_bench_program name)
  if(DL_BENCH)
    add_executable(${name} EXCLUDE_FROM_ALL ${ARGN})
    add_dependencies(dl_benches ${name})
    dl_project_options(${name})
  endif()
endfunction()

function(dl_project_options target)
  target_compile_features(${target} PRIVATE cxx_std_20)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
                         -Wno-missing-field-initializers $<$<BOOL:${DL_WERROR}>:-Werror>)
endfunction()

function(dl_module name)
  cmake_parse_arguments(M "" "" "SOURCES;DEPS;TESTS;TEST_DEPS;FUZZ;BENCH;EXECUTABLES" ${ARGN})
  set(lib dl_${name})
  if(M_SOURCES)
    add_library(${lib} STATIC ${M_SOURCES})
    target_include_directories(${lib} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include)
    target_link_libraries(${lib} PUBLIC ${M_DEPS})
    dl_project_options(${lib})
    target_compile_options(${lib} PRIVATE ${DL_FUZZ_COVERAGE})
    set_target_properties(${lib} PROPERTIES POSITION_INDEPENDENT_CODE ON)
  else()
    add_library(${lib} INTERFACE)
    target_include_directories(${lib} INTERFACE ${CMAKE_CURRENT_SOURCE_DIR}/include)
    target_link_libraries(${lib} INTERFACE ${M_DEPS})
  endif()
  add_library(dl::${name} ALIAS ${lib})

  foreach(spec IN LISTS M_EXECUTABLES)
    string(REPLACE "=" ";" parts "${spec}")
    list(GET parts 0 exe)
    list(GET parts 1 src)
    add_executable(${exe} ${src})
    target_link_libraries(${exe} PRIVATE ${lib})
    dl_project_options(${exe})
  endforeach()

  if(M_TESTS AND DL_TESTS)
    add_executable(${lib}_test ${M_TESTS})
    target_link_libraries(${lib}_test PRIVATE ${lib} ${M_TEST_DEPS} GTest::gtest GTest::gtest_main GTest::gmock)
    target_compile_definitions(${lib}_test PRIVATE DL_SHARED_DIR="${DL_SHARED_DIR}"
                               DL_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
                               DL_TEST_DATA_DIR="${CMAKE_CURRENT_SOURCE_DIR}/test/data")
    dl_project_options(${lib}_test)
    gtest_discover_tests(${lib}_test DISCOVERY_MODE PRE_TEST
                         PROPERTIES LABELS ${name} TIMEOUT 120)
  endif()

  if(M_BENCH AND DL_BENCH)
    # Not in the default build (`ci/build`, `./lab test`: no test runs them): `ci/build dl_benches`
    # builds every one, `ci/build dl_<name>_bench` one; `./lab bench micro` builds them in build-rel/.
    add_executable(${lib}_bench EXCLUDE_FROM_ALL ${M_BENCH})
    add_dependencies(dl_benches ${lib}_bench)
    target_link_libraries(${lib}_bench PRIVATE ${lib} benchmark::benchmark benchmark::benchmark_main)
    target_compile_definitions(${lib}_bench PRIVATE DL_SHARED_DIR="${DL_SHARED_DIR}")
    dl_project_options(${lib}_bench)
  endif()

  if(M_FUZZ AND DL_FUZZ)
    foreach(src IN LISTS M_FUZZ)
      get_filename_component(fname ${src} NAME_WE)
      add_executable(${fname} ${src})
      target_link_libraries(${fname} PRIVATE ${lib})
      target_compile_options(${fname} PRIVATE -fsanitize=fuzzer)
      target_link_options(${fname} PRIVATE -fsanitize=fuzzer)
      dl_project_options(${fname})
      set_property(GLOBAL APPEND PROPERTY DL_FUZZ_TARGETS ${fname})
    endforeach()
  endif()
endfunction()
