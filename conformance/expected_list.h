// SPDX-License-Identifier: MIT
// Per-server expected-failure lists, in the manner of protobuf's conformance failure lists.
//
// Format (conformance/expected/<server>.txt): one entry per line,
//   Required.Walk.DotDotAtRootIsNoOp                # Twalk ..: expected the root qid
//   Recommended.*.*Errno*
// A name or a pattern ('*' inside a dotted component, see NameMatches), optionally followed by
// '#' and the expected failure message's prefix. Lines that start with '#' are comments; blank
// lines are ignored.
//
// An entry whose comment starts with "flaky:" marks a case whose result varies between runs of
// that server (the rest of the comment says why, e.g. the server answers a malformed frame from a
// stale buffer): the case may pass or fail with any message, and --fix keeps the entry as it is.
// Use it only for a server's own nondeterminism, never to hide a case that is timing-dependent.
//
// Judgement: a failure that no entry matches is unexpected; a listed case that passes is an
// unexpected pass (the list must be pruned); a listed failure whose message does not start with
// the entry's prefix is a message mismatch; an entry that matches no case of the catalogue is
// stale. Any of these fails the run. Skips are never judged.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "codec/result.h"
#include "conformance/case_log.h"

namespace p9x::conformance {

struct ExpectedEntry {
  std::string pattern;
  std::string message_prefix;  // empty: any message
  bool flaky = false;          // "# flaky: why": pass or fail, any message
  int line = 0;
};

class ExpectedList {
 public:
  // Parses the text of a list. Fails (with "line N: why") on a malformed pattern.
  static Result<ExpectedList, std::string> Parse(std::string_view text);
  // Reads and parses a file.
  static Result<ExpectedList, std::string> Load(const std::string& path);

  // The first entry matching `name`, or nullptr.
  const ExpectedEntry* Match(std::string_view name) const;
  const std::vector<ExpectedEntry>& entries() const { return entries_; }
  // The comment lines at the top of the file (kept by --fix).
  const std::vector<std::string>& header() const { return header_; }

 private:
  std::vector<ExpectedEntry> entries_;
  std::vector<std::string> header_;
};

enum class Outcome : uint8_t {
  kSuccess,
  kExpectedFailure,
  kUnexpectedFailure,
  kUnexpectedPass,
  kMessageMismatch,
  kSkip,
};
std::string_view OutcomeName(Outcome o);  // "SUCCESS", "EXPECTED FAILURE", ...
// True for the outcomes that fail the run.
inline bool IsUnexpected(Outcome o) {
  return o == Outcome::kUnexpectedFailure || o == Outcome::kUnexpectedPass || o == Outcome::kMessageMismatch;
}

// Judges one case's verdict against the entry that matches it (nullptr when none).
Outcome Judge(Verdict verdict, std::string_view message, const ExpectedEntry* entry);

// Entries that match none of `names` (every case of the catalogue, whether it ran or not).
std::vector<ExpectedEntry> StaleEntries(const ExpectedList& list, const std::vector<std::string>& names);

// One case as --fix sees it.
struct FixInput {
  std::string name;
  bool ran = false;  // false: filtered out (its entries are kept as they are)
  Verdict verdict = Verdict::kPassed;
  std::string message;
};

// The rewritten list: the old header; every failed case as "Name  # message-prefix"; and the old
// entries for cases that did not run or were skipped (so a filtered or partial run keeps them).
// Stale entries are dropped. Sorted by name.
std::string FixedList(const ExpectedList& old, const std::vector<FixInput>& cases);

// The stable part of a failure message that --fix writes as the expected prefix: the message up
// to the first variable-looking token (a hex number or a number of 3+ digits), at most 100 chars.
std::string StablePrefix(std::string_view message);

}  // namespace p9x::conformance
