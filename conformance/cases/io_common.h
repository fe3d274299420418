// SPDX-License-Identifier: MIT
// The spec sentences of lopen, lcreate, read and write, shared by the Lopen, Lcreate, Mkdir, Io and Fsync case files.
#pragma once

#include "conformance/cases/helpers.h"

namespace p9x::conformance {

inline constexpr char kLopenSpec[] =
    "spec/9p2000.L.md §8.11; 9P2000.L lopen (diod protocol.md): \"lopen prepares fid for file I/O. flags contains "
    "Linux open(2) "
    "flags bits\" and returns qid and iounit; open(5): \"It is illegal to write a directory, truncate "
    "it, or attempt to remove it on close.\"";
inline constexpr char kLcreateSpec[] =
    "spec/9p2000.L.md §8.12; 9P2000.L lcreate (diod protocol.md): \"lcreate creates a regular file name in directory "
    "fid and "
    "prepares it for I/O\"; \"fid ... is changed to represent the new file\"";
inline constexpr char kReadSpec[] =
    "read(5): \"The read request asks for count bytes of data from the file identified by fid, which "
    "must be opened for reading, starting offset bytes after the beginning of the file.\"";
inline constexpr char kWriteSpec[] =
    "write(5): \"The write request asks that count bytes of data be recorded in the file identified by "
    "fid, which must be opened for writing, starting offset bytes after the beginning of the file.\"";

}  // namespace p9x::conformance
