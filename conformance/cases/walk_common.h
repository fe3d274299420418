// SPDX-License-Identifier: MIT
// The spec sentences of walk(5) shared by the Walk and Fid case files.
#pragma once

#include "conformance/cases/helpers.h"

namespace p9x::conformance {

inline constexpr char kPartialSpec[] =
    "walk(5): \"If the first element cannot be walked for any reason, Rerror is returned. Otherwise, the "
    "walk will return an Rwalk message containing nwqid qids corresponding, in order, to the files that "
    "are visited by the nwqid successful elementwise walks; nwqid is therefore either nwname or the "
    "index of the first elementwise walk that failed.\"";
inline constexpr char kNewfidSpec[] =
    "walk(5): \"If newfid is in use or otherwise illegal, an Rerror is returned.\" and \"If the full "
    "sequence of nwname elements is walked successfully, newfid will represent the file that results. "
    "If not, newfid (and fid) will be unaffected.\"";

}  // namespace p9x::conformance
