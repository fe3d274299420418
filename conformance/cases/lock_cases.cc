// SPDX-License-Identifier: MIT
// Locks (Tlock/Tgetlock): granting, unlocking, testing, conflicts across connections.
#include "conformance/cases/cases.h"
#include "conformance/cases/helpers.h"
#include "conformance/cases/xattr_lock_common.h"

namespace p9x::conformance {

void RegisterLockCases(Catalogue& catalogue) {
  catalogue.Add({
      .name = "Required.Lock.WriteLockGranted",
      .spec = kLockSpec,
      .needs = {Capability::kWritable, Capability::kLocks},
      .run =
          [](CaseContext& c) {
            Probe& p = c.Session();
            const uint32_t dir = c.Scratch(p);
            p.MakeFile(dir, "f");
            const uint32_t f = p.OpenPath(dir, {"f"}, kOpenRdwr);
            auto r = p.Call(Tlock{f, kLockTypeWrlck, 0, 0, 0, 1, "p9x"});
            if (!p.Must(r, "Tlock F_WRLCK")) return;
            c.Expect(r.msg.status == kLockSuccess, "Tlock F_WRLCK status " + std::to_string(r.msg.status));
          },
  });
  catalogue.Add({
      .name = "Required.Lock.UnlockSucceeds",
      .spec = kLockSpec,
      .needs = {Capability::kWritable, Capability::kLocks},
      .run =
          [](CaseContext& c) {
            Probe& p = c.Session();
            const uint32_t dir = c.Scratch(p);
            p.MakeFile(dir, "f");
            const uint32_t f = p.OpenPath(dir, {"f"}, kOpenRdwr);
            p.Must(p.Call(Tlock{f, kLockTypeWrlck, 0, 0, 0, 1, "p9x"}), "Tlock F_WRLCK");
            auto r = p.Call(Tlock{f, kLockTypeUnlck, 0, 0, 0, 1, "p9x"});
            if (!p.Must(r, "Tlock F_UNLCK")) return;
            c.Expect(r.msg.status == kLockSuccess, "Tlock F_UNLCK status " + std::to_string(r.msg.status));
          },
  });
  catalogue.Add({
      .name = "Required.Lock.GetlockOfUnlockedFile",
      .spec =
          kLockSpec + std::string("; fcntl(2) F_GETLK: \"If no lock is found that would prevent the lock "
                                  "from being created, then fcntl() ... set[s] the l_type field of lock to F_UNLCK\""),
      .needs = {Capability::kWritable, Capability::kLocks},
      .run =
          [](CaseContext& c) {
            Probe& p = c.Session();
            const uint32_t dir = c.Scratch(p);
            p.MakeFile(dir, "f");
            const uint32_t f = p.OpenPath(dir, {"f"}, kOpenRdwr);
            auto r = p.Call(Tgetlock{f, kLockTypeWrlck, 0, 0, 1, "p9x"});
            if (!p.Must(r, "Tgetlock F_WRLCK")) return;
            c.Expect(r.msg.type == kLockTypeUnlck,
                     "Tgetlock on an unlocked file answered type " + std::to_string(r.msg.type));
          },
  });
  catalogue.Add({
      .name = "Recommended.Lock.ConflictAcrossConnectionsReported",
      .spec = kLockSpec + std::string("; fcntl(2) F_SETLK: a conflicting lock held by another client is "
                                      "refused (Rlock status BLOCKED, not SUCCESS)"),
      .needs = {Capability::kWritable, Capability::kLocks},
      .run =
          [](CaseContext& c) {
            Probe& a = c.Session();
            const uint32_t dir = c.Scratch(a);
            a.MakeFile(dir, "f");
            const uint32_t fa = a.OpenPath(dir, {"f"}, kOpenRdwr);
            a.Must(a.Call(Tlock{fa, kLockTypeWrlck, 0, 0, 0, 101, "p9x-a"}), "Tlock F_WRLCK on connection 1");
            Probe& b = c.Session();
            const uint32_t fb = b.OpenPath(c.Scratch(b), {"f"}, kOpenRdwr);
            auto r = b.Call(Tlock{fb, kLockTypeWrlck, 0, 0, 0, 202, "p9x-b"});
            if (!b.Must(r, "Tlock F_WRLCK on connection 2")) return;
            c.Expect(r.msg.status != kLockSuccess,
                     "two connections both hold a write lock on the same file (the server's own fcntl locks do not "
                     "conflict across its clients)");
          },
  });
}

}  // namespace p9x::conformance
