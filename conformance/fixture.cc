// SPDX-License-Identifier: MIT
// `p9x-conform fixture DIR` (fixture.h): builds the multi-filesystem export the qid cases need.
#include "conformance/fixture.h"

#include <sys/wait.h>
#include <unistd.h>


namespace p9x::conformance {

int BuildFixture(const std::string& dir, const std::string& script, FILE* out) {
  if (geteuid() != 0) {
    std::fprintf(out, "p9x-conform fixture: needs root (loop devices, mount, tmpfs); run it as root, e.g. "
                      "sudo p9x-conform fixture %s\n", dir.c_str());
    return 2;
  }
  if (script.empty()) {
    std::fprintf(out, "p9x-conform fixture: tests/fixture/make-fixture.sh not found (pass --script PATH)\n");
    return 2;
  }
  std::fprintf(out, "p9x-conform fixture: running %s %s\n", script.c_str(), dir.c_str());
  std::fflush(out);
  const pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/bash", "bash", script.c_str(), dir.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid) return 1;
  if (!WIFEXITED(status)) return 1;
  if (WEXITSTATUS(status) == 0) {
    std::fprintf(out, "fixture ready. Serve %s and run p9x-conform against it with --local-root %s to check qid "
                      "identity with ground truth.\n", dir.c_str(), dir.c_str());
  }
  return WEXITSTATUS(status);
}

}  // namespace p9x::conformance
