# Included by tests/CMakeLists.txt in the main build: builds tests/fuzz with clang in a build of
# its own (the project's compiler is g++, libFuzzer is clang's) and registers one ctest per
# target, label fuzz, that runs it for FERRY_FUZZ_SECONDS on its seed corpus.
find_program(FERRY_FUZZ_CXX clang++-14)
if(NOT FERRY_FUZZ_CXX)
  if("$ENV{CI}" STREQUAL "true")
    message(FATAL_ERROR "clang++-14 not found: the fuzz tests cannot be built (deploy/install-deps)")
  endif()
  message(WARNING "clang++-14 not found: no fuzz tests (deploy/install-deps installs it)")
  return()
endif()

include(ExternalProject)
set(FERRY_FUZZ_DIR ${PROJECT_BINARY_DIR}/fuzz)
# 2 jobs: the CI machine's cores (tests/run builds with -j 2 as well).
set(FERRY_FUZZ_BUILD_JOBS 2 CACHE STRING "parallel jobs of the fuzz targets' build")
set(FERRY_FUZZ_TARGETS rest_bodies_fuzz wire_messages_fuzz progress_batch_fuzz agent_command_fuzz)
set(byproducts)
foreach(target ${FERRY_FUZZ_TARGETS})
  list(APPEND byproducts ${FERRY_FUZZ_DIR}/tests/fuzz/${target})
endforeach()
ExternalProject_Add(ferry_fuzz
  SOURCE_DIR ${PROJECT_SOURCE_DIR}
  BINARY_DIR ${FERRY_FUZZ_DIR}
  CMAKE_ARGS -DCMAKE_CXX_COMPILER=${FERRY_FUZZ_CXX} -DFERRY_FUZZ=ON -DBUILD_TESTING=OFF
             -DCMAKE_CXX_COMPILER_LAUNCHER=${CMAKE_CXX_COMPILER_LAUNCHER}
  BUILD_COMMAND ${CMAKE_COMMAND} --build <BINARY_DIR> -j ${FERRY_FUZZ_BUILD_JOBS}
  BUILD_ALWAYS ON  # the inner build decides what changed
  BUILD_BYPRODUCTS ${byproducts}
  INSTALL_COMMAND "")

foreach(target ${FERRY_FUZZ_TARGETS})
  string(REGEX REPLACE "_fuzz$" "" name ${target})
  add_test(NAME fuzz_${name}
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/run-target ${FERRY_FUZZ_DIR}/tests/fuzz/${target}
            ${CMAKE_CURRENT_SOURCE_DIR}/fuzz ${FERRY_FUZZ_DIR}/runs/${name})
  set_tests_properties(fuzz_${name} PROPERTIES LABELS fuzz)
endforeach()
