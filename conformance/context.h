// SPDX-License-Identifier: MIT
// What a running case sees: the run's environment, its log, its connections and its scratch
// directory.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "conformance/case_log.h"
#include "conformance/catalogue.h"
#include "conformance/probe.h"

namespace p9x::conformance {

// Shared by every case of a run; set up by the runner before the first case.
struct RunEnvironment {
  std::string target;
  SessionParams session;  // the version string the run negotiated, msize, aname, uname
  std::chrono::milliseconds timeout{5000};
  bool xqid_negotiated = false;
  bool xqid_required = false;  // --dialect xqid
  std::string xqid_answer;     // what the server answered to the xqid offer
  std::string scratch_name;    // the run's scratch directory in the export root ("" if none)
  std::string local_root;      // --local-root ("" if none)
  std::string vectors_dir;     // spec/vectors
  std::set<Capability> capabilities;
  std::map<Capability, std::string> missing;  // why each absent capability is absent
};

class CaseContext {
 public:
  CaseContext(const RunEnvironment& env, CaseLog& log, std::string scratch_leaf);
  CaseContext(const CaseContext&) = delete;
  CaseContext& operator=(const CaseContext&) = delete;

  const RunEnvironment& env() const { return env_; }
  CaseLog& log() { return log_; }
  bool failed() const { return log_.failed(); }
  bool stopped() const { return log_.stopped(); }
  void Fail(std::string message) { log_.Fail(std::move(message)); }
  void Skip(std::string reason) { log_.Skip(std::move(reason)); }
  void Note(std::string text) { log_.Note(0, std::move(text)); }

  // A new connection, not yet versioned. If the connect fails, the case fails and the probe
  // is closed (its operations do nothing).
  Probe& Connect();
  // Connect + Tversion + Tattach as the run negotiated (p.root(), p.root_qid()).
  Probe& Session();
  // Session() with another msize.
  Probe& SessionWithMsize(uint32_t msize);
  // This case's own scratch directory (created on first use), as a fresh fid on `p`.
  uint32_t Scratch(Probe& p);
  // The scratch directory's path relative to the export root.
  std::string ScratchPath() const { return env_.scratch_name + "/" + scratch_leaf_; }
  // Where the export's `relative` path is on this machine (needs --local-root).
  std::string LocalPath(std::string_view relative) const;

  // Fails the case with `message` unless `condition`; returns condition.
  bool Expect(bool condition, std::string_view message);
  // Fails unless the reply is an error (Rlerror). `what` names the request.
  bool ExpectError(const ReplyBase& r, std::string_view what);
  // Fails unless the reply is Rlerror with exactly `e`.
  bool ExpectErrno(const ReplyBase& r, Errno e, std::string_view what);

 private:
  const RunEnvironment& env_;
  CaseLog& log_;
  std::string scratch_leaf_;
  bool scratch_made_ = false;
  std::deque<std::unique_ptr<Probe>> probes_;
};

// "Rlerror ENOENT (2)" style text of an errno.
std::string DescribeErrno(Errno e);

}  // namespace p9x::conformance
