# SPDX-License-Identifier: MIT
# Uniform target helpers (GUIDE R15) and the module-graph check.

set(P9X_WARNINGS -Wall -Wextra -Wshadow -Wconversion -Wno-sign-conversion)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # GCC 12 reports false -Wstringop-overflow on bounds-checked writes through std::variant
  # visitors (the Writer checks every length before it stores).
  # and false -Wmaybe-uninitialized on std::variant storage inside p9x::Result (GCC bug 105562
  # family); clang, which builds the fuzzer and the sanitizer tiers, keeps the check.
  list(APPEND P9X_WARNINGS -Wno-stringop-overflow -Wno-maybe-uninitialized)
endif()
if(P9X_WERROR)
  list(APPEND P9X_WARNINGS -Werror)
endif()

if(P9X_SANITIZE)
  add_compile_options(-fsanitize=${P9X_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${P9X_SANITIZE})
endif()

# p9x_cc_library(NAME codec SRCS a.cc HDRS a.h DEPS p9x::x PUBLIC_DEPS ...)
# Defines p9x_<NAME> with alias p9x::<NAME>. The include root is the repository root, so code
# includes "codec/frame.h", "server/engine.h", ...
function(p9x_cc_library)
  cmake_parse_arguments(A "" "NAME" "SRCS;HDRS;DEPS" ${ARGN})
  set(target p9x_${A_NAME})
  if(A_SRCS)
    add_library(${target} STATIC ${A_SRCS} ${A_HDRS})
    target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
    target_compile_options(${target} PRIVATE ${P9X_WARNINGS})
    target_link_libraries(${target} PUBLIC ${A_DEPS})
  else()
    add_library(${target} INTERFACE ${A_HDRS})
    target_include_directories(${target} INTERFACE ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
    target_link_libraries(${target} INTERFACE ${A_DEPS})
  endif()
  add_library(p9x::${A_NAME} ALIAS ${target})
endfunction()

# p9x_cc_binary(NAME p9xd SRCS main.cc DEPS p9x::server)
function(p9x_cc_binary)
  cmake_parse_arguments(A "" "NAME" "SRCS;DEPS" ${ARGN})
  add_executable(${A_NAME} ${A_SRCS})
  target_include_directories(${A_NAME} PRIVATE ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  target_compile_options(${A_NAME} PRIVATE ${P9X_WARNINGS})
  target_link_libraries(${A_NAME} PRIVATE ${A_DEPS})
endfunction()

# p9x_fuzz_target(NAME fuzz_server SRC fuzz_server.cc DEPS p9x::server TEST FuzzServer.ReplaysCorpus
#                 TIMEOUT 120 INPUTS dir...)
# A libFuzzer target and its replay. NAME needs clang (-fsanitize=fuzzer) and is built only with
# -DP9X_FUZZ=ON, in a build directory of its own: codec/fuzz/run_fuzz.sh configures build-fuzz/
# with clang, ASan and UBSan, builds just that target and runs it for a bounded time. NAME_replay
# runs the same checks from a plain main (codec/fuzz/replay_main.cc) on every build: CTest's
# TEST replays INPUTS (label fuzz).
function(p9x_fuzz_target)
  cmake_parse_arguments(A "" "NAME;SRC;TEST;TIMEOUT" "DEPS;INPUTS" ${ARGN})
  if(P9X_FUZZ)
    if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
      message(FATAL_ERROR "P9X_FUZZ needs clang: configure a separate build directory with "
        "-DCMAKE_CXX_COMPILER=clang++ (codec/fuzz/run_fuzz.sh does this in build-fuzz/)")
    endif()
    add_executable(${A_NAME} ${A_SRC})
    target_include_directories(${A_NAME} PRIVATE ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
    target_compile_options(${A_NAME} PRIVATE ${P9X_WARNINGS} -fsanitize=fuzzer,address,undefined)
    target_link_options(${A_NAME} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_libraries(${A_NAME} PRIVATE ${A_DEPS})
  endif()
  p9x_cc_binary(NAME ${A_NAME}_replay SRCS ${A_SRC} ${PROJECT_SOURCE_DIR}/codec/fuzz/replay_main.cc
    DEPS ${A_DEPS} p9x::codec)
  add_test(NAME ${A_TEST} COMMAND ${A_NAME}_replay ${A_INPUTS})
  set_tests_properties(${A_TEST} PROPERTIES LABELS "unit;fuzz" TIMEOUT ${A_TIMEOUT})
endfunction()

# p9x_cc_test(NAME codec_frame_test SRCS frame_test.cc DEPS p9x::codec [LABELS unit])
# A GoogleTest binary whose cases CTest discovers one by one.
function(p9x_cc_test)
  cmake_parse_arguments(A "" "NAME;TIMEOUT" "SRCS;DEPS;LABELS" ${ARGN})
  if(NOT A_LABELS)
    set(A_LABELS unit)
  endif()
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 120)
  endif()
  add_executable(${A_NAME} ${A_SRCS})
  target_include_directories(${A_NAME} PRIVATE ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  target_compile_options(${A_NAME} PRIVATE ${P9X_WARNINGS})
  target_link_libraries(${A_NAME} PRIVATE ${A_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  gtest_discover_tests(${A_NAME}
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
    PROPERTIES LABELS "${A_LABELS}" TIMEOUT ${A_TIMEOUT}
    DISCOVERY_TIMEOUT 60)
endfunction()

# The one-way module graph (cmake/module_graph.cmake), checked at configure time by scanning
# #include lines, so a wrong edge fails the build at once.
include(${CMAKE_CURRENT_LIST_DIR}/module_graph.cmake)
function(p9x_check_module_graph)
  p9x_module_graph_violations(${PROJECT_SOURCE_DIR} violations)
  if(violations)
    message(FATAL_ERROR "module graph broken (see cmake/module_graph.cmake):\n${violations}")
  endif()
  # Re-run the check when a source file is added or removed.
  foreach(module ${P9X_MODULES})
    file(GLOB_RECURSE unused CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/${module}/*.h
         ${PROJECT_SOURCE_DIR}/${module}/*.cc ${PROJECT_SOURCE_DIR}/${module}/*.inc)
  endforeach()
endfunction()
