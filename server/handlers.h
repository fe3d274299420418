// SPDX-License-Identifier: MIT
// What the handler files (handlers_*.cc) share: the fid lookup that every handler starts with,
// and the switch to the requesting user's credentials that comes before any host action.
//
// Each handler is one member of Connection (connection.h) per T-message. A handler reads the fid's
// node and open file through the Fid snapshots; the few that hold Fid::mu for the whole call say
// why on the line above the lock. Every host action (a backend call; a qid, which stats the file)
// comes after P9X_ACT_AS; what a handler does before it or without it (checks, the xattr fids'
// in-memory values, Txattrcreate) touches only the server's own state.
#pragma once

#include "server/connection.h"

// The fid rules were checked when the request arrived, but a concurrent Tclunk on a worker
// thread may have released the fid since: look it up again and answer EBADF if it is gone.
#define P9X_FID(var, id)                   \
  FidRef var = GetFid(id, req.generation); \
  if (!var) return Unexpected(Errno::kEBADF)

// The rest of the handler acts on the host with the credentials of fid `f`'s user.
#define P9X_ACT_AS(f) \
  if (auto switched = ActAs(*(f)); !switched) return Unexpected(switched.error())

// Both fids of a two-fid request belong to one user, whose credentials the handler then takes.
#define P9X_ACT_AS_BOTH(a, b)                                  \
  if (!SameUser(*(a), *(b))) return Unexpected(Errno::kEPERM); \
  P9X_ACT_AS(a)
