# SPDX-License-Identifier: MIT
# The one-way module graph (GUIDE R15): the files of each folder may include only the modules
# listed for it. Dependencies go codec <- negotiation <- {client, server} <- conformance, and:
#  - conformance never includes server/: the runner judges any server from outside, and code
#    shared with p9xd would let it accept what p9xd does rather than what the spec says;
#  - a module's own tests (*_test.cc) obey the module's rule: a test that drives one module
#    through another (p9xd through the client, say) is a cross-module test and lives in tests/;
#  - bench/ and tools/ are leaves that nothing includes; tests/ may include every module.
# Used at configure time (p9x_check_module_graph in cmake/p9x.cmake), so a wrong edge fails the
# build at once, and as a script: cmake -DROOT=<tree> -P cmake/module_graph.cmake exits non-zero
# and names each offending include (cmake/module_graph_test.cmake runs it on broken trees).

cmake_policy(SET CMP0057 NEW)  # if(IN_LIST) in script mode too
set(P9X_MODULES codec negotiation server client conformance bench tools tests)
set(P9X_ALLOWED_codec "codec")
set(P9X_ALLOWED_negotiation "codec;negotiation")
set(P9X_ALLOWED_server "codec;negotiation;server")
set(P9X_ALLOWED_client "codec;negotiation;client")
set(P9X_ALLOWED_conformance "codec;negotiation;client;conformance")
set(P9X_ALLOWED_bench "codec;negotiation;server;client;bench")
set(P9X_ALLOWED_tools "codec;tools")
set(P9X_ALLOWED_tests "codec;negotiation;server;client;conformance;tests")

# Sets OUT to one line per include under ROOT that breaks the graph ("" when none).
function(p9x_module_graph_violations root out)
  set(found "")
  foreach(module ${P9X_MODULES})
    file(GLOB_RECURSE sources ${root}/${module}/*.h ${root}/${module}/*.cc ${root}/${module}/*.inc)
    foreach(source ${sources})
      file(STRINGS ${source} includes REGEX "^#include \"[a-z_]+/")
      foreach(line ${includes})
        string(REGEX REPLACE "^#include \"([a-z_]+)/.*" "\\1" used "${line}")
        if(used IN_LIST P9X_MODULES AND NOT used IN_LIST P9X_ALLOWED_${module})
          file(RELATIVE_PATH shown ${root} ${source})
          string(APPEND found "  ${shown} (${module}/) includes ${used}/; ${module}/ may include: "
                 "${P9X_ALLOWED_${module}}\n")
        endif()
      endforeach()
    endforeach()
  endforeach()
  set(${out} "${found}" PARENT_SCOPE)
endfunction()

if(CMAKE_SCRIPT_MODE_FILE STREQUAL CMAKE_CURRENT_LIST_FILE)
  p9x_module_graph_violations(${ROOT} violations)
  if(violations)
    message(FATAL_ERROR "module graph broken:\n${violations}")
  endif()
endif()
