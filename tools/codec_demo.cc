// codec_demo: encodes a short 9P2000.L session in both dialects and prints each frame as hex
// and as text, showing what the xqid dialect changes on the wire (only the qids grow).
// The README's run command uses it until the conformance runner exists.
#include <cstdio>

#include "codec/frame.h"
#include "codec/text.h"

int main() {
  using namespace p9x;
  Twalk walk{1, 2, {}};
  walk.wnames.count = 2;
  walk.wnames.names[0] = "p2";
  walk.wnames.names[1] = "file";
  Rwalk rwalk;
  rwalk.wqids.count = 2;
  rwalk.wqids.qids[0] = Qid{kQtDir, 0, 2, 3};
  rwalk.wqids.qids[1] = Qid{kQtFile, 1, 17, 3};
  const Frame session[] = {
      {kNoTag, Tversion{65536, "9P2000.L.xqid"}},
      {kNoTag, Rversion{65536, "9P2000.L.xqid"}},
      {1, Tattach{1, kNoFid, "root", "", 0}},
      {1, Rattach{Qid{kQtDir, 0, 2, 1}}},
      {2, walk},
      {2, rwalk},
      {3, Tclunk{2}},
      {3, Rclunk{}},
  };
  for (Dialect d : {Dialect::kXqid, Dialect::kLegacy}) {
    std::printf("== %s ==\n", d == Dialect::kXqid ? "9P2000.L.xqid" : "9P2000.L (legacy: qids with path_hi != 0 are refused)");
    for (const Frame& f : session) {
      auto bytes = EncodeToVector(f, WireContext{d, 65536});
      if (!bytes) {
        std::printf("  %-60s refused: %s\n", ToText(f, d).c_str(), bytes.error().Describe().c_str());
        continue;
      }
      auto back = DecodeFrame(*bytes, WireContext{d, 65536});
      std::printf("  %3zu bytes  %s\n             %s\n", bytes->size(), ToHex(*bytes).c_str(),
                  back ? ToText(*back, d).c_str() : back.error().Describe().c_str());
    }
  }
  return 0;
}
