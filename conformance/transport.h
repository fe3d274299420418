// SPDX-License-Identifier: MIT
// Connecting the runner to a server under test. The runner uses the client library's connector
// (client/transport.h: tcp:HOST:PORT, unix:PATH, exec:COMMAND on a socketpair) and only adapts
// its error to the runner's convention: a failed connection is a recorded result, not a crash.
#pragma once

#include <string>
#include <string_view>

#include "client/transport.h"

namespace p9x::conformance {

using Transport = client::Transport;

// Connects to `target`. On failure returns a Transport with fd() < 0 and sets *error.
Transport Connect(std::string_view target, std::string* error);

inline bool Connected(const Transport& t) { return t.fd() >= 0; }

// True when `target` has one of the three forms; otherwise *why says what is wrong.
bool IsValidTarget(std::string_view target, std::string* why);

}  // namespace p9x::conformance
