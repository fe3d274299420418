// SPDX-License-Identifier: MIT
// The spec sentences of getattr and setattr, shared by the Getattr, Setattr and Statfs case files.
#pragma once

#include <sys/stat.h>
#include <sys/statvfs.h>

#include "conformance/cases/helpers.h"

namespace p9x::conformance {

inline constexpr char kGetattrSpec[] =
    "spec/9p2000.L.md §8.17; 9P2000.L getattr (diod protocol.md): \"getattr gets attributes of a file system object "
    "referenced "
    "by fid. The response is intended to follow pretty closely the fields returned by the stat(2) system "
    "call\"; \"valid\" says which fields are filled in";
inline constexpr char kSetattrSpec[] =
    "spec/9p2000.L.md §8.18; 9P2000.L setattr (diod protocol.md): \"setattr sets attributes of a file system object "
    "referenced by "
    "fid. As with getattr, valid is a bitmask selecting which fields to set\"";

}  // namespace p9x::conformance
