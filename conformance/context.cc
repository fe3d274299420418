// SPDX-License-Identifier: MIT
// What a running case sees (context.h): sessions, scratch directories and the run's options.
#include "conformance/context.h"

namespace p9x::conformance {

std::string DescribeErrno(Errno e) {
  std::string name(ErrnoName(e));
  if (name.empty()) name = "errno";
  return name + " (" + std::to_string(static_cast<uint32_t>(e)) + ")";
}

CaseContext::CaseContext(const RunEnvironment& env, CaseLog& log, std::string scratch_leaf)
    : env_(env), log_(log), scratch_leaf_(std::move(scratch_leaf)) {}

Probe& CaseContext::Connect() {
  std::string error;
  Transport t;
  if (!log_.stopped()) {
    t = conformance::Connect(env_.target, &error);
    if (!Connected(t)) log_.Fail(error);
  }
  const int id = static_cast<int>(probes_.size()) + 1;
  probes_.push_back(std::make_unique<Probe>(log_, id, std::move(t), env_.timeout));
  return *probes_.back();
}

Probe& CaseContext::Session() {
  Probe& p = Connect();
  p.Start(env_.session);
  return p;
}

Probe& CaseContext::SessionWithMsize(uint32_t msize) {
  Probe& p = Connect();
  SessionParams params = env_.session;
  params.msize = msize;
  p.Start(params);
  return p;
}

uint32_t CaseContext::Scratch(Probe& p) {
  if (env_.scratch_name.empty()) {
    log_.Skip("no scratch directory (the export is not writable)");
    return kNoFid;
  }
  if (!scratch_made_) {
    const uint32_t run_dir = p.Walk(p.root(), {env_.scratch_name});
    p.MakeDir(run_dir, scratch_leaf_, 0777);
    p.Clunk(run_dir);
    scratch_made_ = true;
  }
  return p.Walk(p.root(), {env_.scratch_name, scratch_leaf_});
}

std::string CaseContext::LocalPath(std::string_view relative) const {
  return env_.local_root + "/" + std::string(relative);
}

bool CaseContext::Expect(bool condition, std::string_view message) {
  if (!condition && !log_.stopped()) log_.Fail(std::string(message));
  return condition;
}

bool CaseContext::ExpectError(const ReplyBase& r, std::string_view what) {
  if (log_.stopped()) return false;
  if (r.is_error()) return true;
  log_.Fail(std::string(what) + ": expected Rlerror, got " + r.Describe());
  return false;
}

bool CaseContext::ExpectErrno(const ReplyBase& r, Errno e, std::string_view what) {
  if (log_.stopped()) return false;
  if (r.is_error() && r.error == e) return true;
  log_.Fail(std::string(what) + ": expected Rlerror " + DescribeErrno(e) + ", got " + r.Describe());
  return false;
}

}  // namespace p9x::conformance
