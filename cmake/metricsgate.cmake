# Helpers that make every module look alike (after absl_cc_library and leveldb_test).
#
#   mg_library(NAME storage SRCS a.cc b.cc PUBLIC_DEPS absl::status DEPS absl::strings)
#     -> target metricsgate_storage, alias metricsgate::storage; the repository root is the
#        include root, so headers are included as "storage/a.h".
#   mg_test(NAME storage_test SRCS a_test.cc DEPS metricsgate::storage)
#     -> a GoogleTest binary whose tests are registered with CTest one by one.
#   mg_benchmark(NAME parser_benchmark SRCS parser_benchmark.cc DEPS metricsgate::ingest)

function(mg_library)
  cmake_parse_arguments(MG "" "NAME" "SRCS;PUBLIC_DEPS;DEPS;PUBLIC_DEFINITIONS" ${ARGN})
  set(target metricsgate_${MG_NAME})
  add_library(${target} STATIC ${MG_SRCS})
  add_library(metricsgate::${MG_NAME} ALIAS ${target})
  target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${target} PUBLIC ${MG_PUBLIC_DEPS} PRIVATE ${MG_DEPS})
  if(MG_PUBLIC_DEFINITIONS)
    target_compile_definitions(${target} PUBLIC ${MG_PUBLIC_DEFINITIONS})
  endif()
endfunction()

function(mg_test)
  if(NOT MG_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(MG "" "NAME" "SRCS;DEPS" ${ARGN})
  add_executable(${MG_NAME} ${MG_SRCS})
  target_link_libraries(${MG_NAME} PRIVATE ${MG_DEPS} GTest::gmock GTest::gtest_main)
  gtest_discover_tests(${MG_NAME} DISCOVERY_TIMEOUT 60)
endfunction()

function(mg_benchmark)
  if(NOT MG_BUILD_BENCHMARKS)
    return()
  endif()
  cmake_parse_arguments(MG "" "NAME" "SRCS;DEPS" ${ARGN})
  add_executable(${MG_NAME} ${MG_SRCS})
  target_link_libraries(${MG_NAME} PRIVATE ${MG_DEPS} benchmark::benchmark_main)
endfunction()
