# Regenerates the files p9gen produces and fails if any differs from the checked-in copy.
file(MAKE_DIRECTORY ${OUT})
execute_process(COMMAND ${P9GEN} ${SRC}/spec/messages.json ${OUT}/messages.inc ${OUT}/messages.md
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "p9gen failed (${rc})")
endif()
foreach(pair "messages.inc;codec/messages.inc" "messages.md;spec/messages.md")
  list(GET pair 0 fresh)
  list(GET pair 1 checked_in)
  execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${OUT}/${fresh} ${SRC}/${checked_in}
                  RESULT_VARIABLE differs)
  if(differs)
    message(FATAL_ERROR "${checked_in} is stale: spec/messages.json changed. "
                        "Run: cmake --build build --target regen")
  endif()
endforeach()
message(STATUS "generated files are up to date")
