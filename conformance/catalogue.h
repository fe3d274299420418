// SPDX-License-Identifier: MIT
// The conformance catalogue: every case declared once, as data.
//
// A case is a name "Level.Area.Case" (CamelCase segments, no underscores, so names work as
// filters and in expected-failure lists; the level is its first segment), the spec sentence it
// checks, what it sends and expects, the capabilities
// it needs (absent ones skip the case with the reason, never fail it), and a run function.
// Registration is explicit: main() calls RegisterNegotiationCases(catalogue) and its siblings
// (conformance/cases/cases.h); there are no static registrars.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace p9x::conformance {

class CaseContext;

// Required: 9P2000.L core; every server must pass. Recommended: exact errno values and other
// behaviour where servers legitimately differ. Xqid: the extended-qid dialect; run only when the
// session negotiated 9P2000.L.xqid.
enum class Level : uint8_t { kRequired, kRecommended, kXqid };
std::string_view LevelName(Level level);  // "Required", "Recommended", "Xqid"

// What a case needs from the server or the environment. The runner probes the server for each
// one before the run (conformance/runner.cc: DetectCapabilities).
enum class Capability : uint8_t {
  kWritable,     // a scratch directory can be created in the export
  kXattrs,       // user.* extended attributes (Txattrcreate/Txattrwalk)
  kHardLinks,    // Tlink
  kSymlinks,     // Tsymlink
  kFifos,        // Tmknod of a FIFO
  kDevices,      // Tmknod of a character device (the server runs as root)
  kLocks,        // Tlock
  kMultiFs,      // the export is the multi-filesystem fixture (p1, p2: cloned ext4; p3: tmpfs)
  kLocalRoot,    // --local-root gives ground truth (device, inode) via lstat
  kRunnerRoot,   // the runner itself is root
};
std::string_view CapabilityName(Capability c);  // "xattrs", "hard links", ...

struct Case {
  std::string name;  // Level.Area.Case
  Level level = Level::kRequired;  // set by Catalogue::Add from the name's first segment
  // The sentence checked: a section of spec/9p2000.L.md or spec/xqid.md, or a man page
  // ("walk(5): \"...\"").
  std::string spec;
  // What the case sends and what it expects back, in one or two sentences ("" when the spec
  // sentence already says it).
  std::string checks = {};
  std::vector<Capability> needs;
  std::function<void(CaseContext&)> run;

  std::string_view area() const;  // the middle segment
};

// The conformance profiles of spec/xqid.md §12. kXqid: the negotiation cases and the Xqid cases,
// what a server must pass to claim 9P2000.L.xqid; kBase: the Required and Recommended cases, p9x's
// reading of 9P2000.L (spec/9p2000.L.md); kAll: every case.
enum class Profile : uint8_t { kAll, kXqid, kBase };
std::optional<Profile> ProfileFromName(std::string_view name);  // "all", "xqid", "base"
std::string_view ProfileName(Profile profile);
bool InProfile(Profile profile, const Case& c);

class Catalogue {
 public:
  // Adds a case, its level taken from the name. A malformed or duplicate name is a programming
  // error: Add aborts with the reason.
  void Add(Case c);
  const std::vector<Case>& cases() const { return cases_; }
  size_t size() const { return cases_.size(); }
  // Cases of `profile` whose name matches `pattern` (see NameMatches; empty matches all).
  std::vector<const Case*> Select(std::string_view pattern, Profile profile = Profile::kAll) const;

 private:
  std::vector<Case> cases_;
  std::map<std::string, size_t, std::less<>> index_;
};

// What `p9x-conform --describe NAME` prints: the case's level and what it means, the profiles
// that include it, what it needs, the spec sentence it checks and what it sends and expects.
std::string DescribeCase(const Case& c);

// Empty when `name` is a valid "Level.Area.Case", else why not.
std::string CheckCaseName(std::string_view name);

// Filters and expected-failure entries: dotted components compared one by one, '*' matching any
// run of characters inside one component ("Required.Walk.*", "*.Flush.*Tag*"). A pattern with
// fewer components than the name matches it as a prefix when its last component is "*"
// ("Required.*" matches every Required case).
bool NameMatches(std::string_view pattern, std::string_view name);

}  // namespace p9x::conformance
