# SPDX-License-Identifier: MIT
# ModuleGraph.Check: the module check (cmake/module_graph.cmake) passes on the tree and fails on
# scratch trees that each break one rule: conformance/ including server/, a test inside a module
# folder including another module, a module including tests/, and bench/ including conformance/.
# Run as: cmake -DSRC=<source tree> -DOUT=<scratch dir> -P cmake/module_graph_test.cmake
set(check ${SRC}/cmake/module_graph.cmake)

function(run_check root expect_fail expect_text)
  execute_process(COMMAND ${CMAKE_COMMAND} -DROOT=${root} -P ${check}
                  RESULT_VARIABLE rc ERROR_VARIABLE err OUTPUT_VARIABLE out)
  if(expect_fail)
    if(rc EQUAL 0)
      message(FATAL_ERROR "the module check accepted ${root}; expected it to refuse: ${expect_text}")
    endif()
    string(FIND "${err}" "${expect_text}" at)
    if(at EQUAL -1)
      message(FATAL_ERROR "the module check refused ${root} but did not say '${expect_text}':\n${err}")
    endif()
  elseif(NOT rc EQUAL 0)
    message(FATAL_ERROR "the module check refused ${root}:\n${err}")
  endif()
endfunction()

# The real tree obeys the graph.
run_check(${SRC} FALSE "")

# Scratch trees: NAME, the file to write, the include it holds, what the refusal must say.
set(cases
  "conformance_server|conformance/judge.cc|server/server.h|conformance/judge.cc (conformance/) includes server/"
  "server_test_client|server/engine_test.cc|client/client.h|server/engine_test.cc (server/) includes client/"
  "client_test_tests|client/capture_test.cc|tests/client/server_process.h|client/capture_test.cc (client/) includes tests/"
  "bench_conformance|bench/judge_bench.cc|conformance/probe.h|bench/judge_bench.cc (bench/) includes conformance/"
  "tools_server|tools/gen.cc|server/server.h|tools/gen.cc (tools/) includes server/")
foreach(case ${cases})
  string(REPLACE "|" ";" fields "${case}")
  list(GET fields 0 name)
  list(GET fields 1 file)
  list(GET fields 2 include)
  list(GET fields 3 text)
  set(root ${OUT}/${name})
  file(REMOVE_RECURSE ${root})
  # A legal neighbour in the same folder, so the check must single out the bad file.
  get_filename_component(folder ${file} DIRECTORY)
  file(WRITE ${root}/${folder}/fine.h "#include \"codec/frame.h\"\n")
  file(WRITE ${root}/${file} "#include \"codec/frame.h\"\n#include \"${include}\"\n")
  run_check(${root} TRUE "${text}")
  # The same include from tests/ is allowed: cross-module tests live there.
  file(REMOVE ${root}/${file})
  if(NOT include MATCHES "^tests/")
    file(WRITE ${root}/tests/${name}/cross_test.cc "#include \"${include}\"\n")
  endif()
  run_check(${root} FALSE "")
endforeach()
message(STATUS "the module check refuses every broken tree and accepts the real one")
