// SPDX-License-Identifier: MIT
// The capability probes the runner makes before the cases: each Capability (catalogue.h) is
// present only when the server or the environment demonstrably has it, else absent with the reason.
#pragma once

#include <cstdio>

#include "conformance/context.h"
#include "conformance/probe.h"
#include "conformance/runner.h"

namespace p9x::conformance {

// Probes each capability on the server (in a directory `caps` inside the scratch directory)
// and the environment, filling env.capabilities and env.missing; progress goes to `out`.
void DetectCapabilities(const RunOptions& options, RunEnvironment& env, Probe& p, FILE* out);

}  // namespace p9x::conformance
