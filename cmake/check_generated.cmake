# SPDX-License-Identifier: MIT
# Regenerates the files p9gen produces and fails if any differs from the checked-in copy:
# codec/messages.inc, spec/messages.md, and the generated regions of spec/xqid.md and
# spec/9p2000.L.md (p9gen fills them into copies in OUT; the hand-written text is kept as is, so
# the copies differ from the documents exactly when a region is stale). p9gen also fails when
# spec/9p2000.L.md lacks a layout region for some message of the table.
file(MAKE_DIRECTORY ${OUT})
execute_process(COMMAND ${P9GEN} ${SRC}/spec/messages.json ${OUT}/messages.inc ${OUT}/messages.md
                        --doc ${SRC}/spec/xqid.md ${OUT}/xqid.md
                        --reference ${SRC}/spec/9p2000.L.md ${OUT}/9p2000.L.md
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "p9gen failed (${rc})")
endif()
foreach(pair "messages.inc;codec/messages.inc" "messages.md;spec/messages.md" "xqid.md;spec/xqid.md"
             "9p2000.L.md;spec/9p2000.L.md")
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
