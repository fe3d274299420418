// SPDX-License-Identifier: MIT
// Malformed frames sent to the server.
// For every malformed frame the server must answer Rlerror or close the connection, never crash or
// hang, and a second connection must still work afterwards.
#include "conformance/cases/cases.h"
#include "conformance/cases/helpers.h"
#include "conformance/vectors.h"

namespace p9x::conformance {
namespace {

constexpr char kMalformedSpec[] =
    "spec/9p2000.L.md §1: \"A frame holds exactly one message: p9x refuses a frame whose fields end before "
    "size or run past it\"; a server answers "
    "a malformed frame with Rlerror or closes the connection, and keeps serving other connections";

// After a malformed frame: a new connection must still work. A server that crashed may still be
// exiting when this runs (its listening socket accepting, or already closed), so a refused
// connect, a reset and a missing Rversion all give the same message: the verdict does not depend
// on how far the exit has got.
void ExpectServerStillServes(CaseContext& c, std::string_view what) {
  if (c.stopped()) return;
  const std::string failure = std::string(what) + ": afterwards the server does not answer a new connection (it crashed?)";
  std::string error;
  if (!Connected(Connect(c.env().target, &error))) {
    c.Fail(failure);
    return;
  }
  Probe& second = c.Connect();
  if (c.stopped()) return;
  auto v = second.Version(c.env().session.msize, c.env().session.version);
  if (v.status == ReplyStatus::kClosed || v.status == ReplyStatus::kTimeout) {
    c.Note("Tversion on a new connection: " + v.Describe());
    c.Fail(failure);
    return;
  }
  if (!second.Must(v, "Tversion on a new connection")) return;
  auto a = second.Attach(second.NextFid(), c.env().session);
  if (!second.Must(a, "Tattach on a new connection")) return;
  second.Must(second.Call(Tgetattr{second.NextFid() - 1, kGetattrBasic}), "Tgetattr on a new connection");
}

// Sends `bytes` on a fresh session and requires Rlerror or a close; then a new connection must work.
void ExpectRefusal(CaseContext& c, const std::vector<uint8_t>& bytes, std::string_view what) {
  Probe& p = c.Session();
  if (c.stopped()) return;
  p.SendBytes(bytes);
  RawFrame f = p.Receive();
  if (f.status == ReplyStatus::kOk) {
    if (f.type != static_cast<uint8_t>(MsgType::kRlerror) && f.type != kRerrorType) {
      const MsgInfo* info = FindMsgInfo(f.type);
      c.Fail(std::string(what) + ": answered " + (info ? std::string(info->name) : "type " + std::to_string(f.type)) +
             ", expected Rlerror or a closed connection");
      return;
    }
  } else if (f.status == ReplyStatus::kTimeout) {
    c.Fail(std::string(what) + ": " + f.detail + " (expected Rlerror or a closed connection)");
    return;
  }
  ExpectServerStillServes(c, what);
}

// Sends an invalid vector of spec/vectors in a session of its dialect (and msize).
void SendVector(CaseContext& c, const InvalidVector& v) {
  const bool xqid = c.env().xqid_negotiated;
  if (v.dialect && (*v.dialect == Dialect::kXqid) != xqid) {
    c.Skip(std::string("a ") + (*v.dialect == Dialect::kXqid ? "9P2000.L.xqid" : "9P2000.L") +
           " vector; this run's session is the other dialect");
    return;
  }
  if (v.msize != 0 && v.msize < kMinMsize) {
    c.Skip("the vector assumes msize " + std::to_string(v.msize) + ", below the 4096 a session can use");
    return;
  }
  Probe& p = v.msize != 0 ? c.SessionWithMsize(v.msize) : c.Session();
  if (c.stopped()) return;
  if (v.msize != 0 && p.msize() != v.msize) {
    c.Skip("the server did not agree to msize " + std::to_string(v.msize));
    return;
  }
  const std::string what = "invalid vector " + v.file;
  p.SendBytes(v.bytes);
  // A size field that promises more bytes than the vector has: on a stream the server rightly
  // waits for them, so end the stream; it must then close (or answer Rlerror).
  const uint32_t size = v.bytes.size() >= 4 ? (v.bytes[0] | (v.bytes[1] << 8) | (v.bytes[2] << 16) |
                                               (static_cast<uint32_t>(v.bytes[3]) << 24))
                                            : 0;
  const bool waits = v.bytes.size() < 4 || (size > v.bytes.size() && size <= p.msize());
  if (waits) p.ShutdownWrite();
  RawFrame f = p.Receive();
  if (f.status == ReplyStatus::kOk && f.type != static_cast<uint8_t>(MsgType::kRlerror) && f.type != kRerrorType) {
    const MsgInfo* info = FindMsgInfo(f.type);
    c.Fail(what + ": answered " + (info ? std::string(info->name) : "type " + std::to_string(f.type)) +
           ", expected Rlerror or a closed connection");
    return;
  }
  if (f.status == ReplyStatus::kTimeout) {
    c.Fail(what + ": " + f.detail + (waits ? " after the stream ended" : "") +
           " (expected Rlerror or a closed connection)");
    return;
  }
  ExpectServerStillServes(c, what);
}

}  // namespace

void RegisterMalformedCases(Catalogue& catalogue, const std::string& vectors_dir) {
  const auto type = [](MsgType t) { return static_cast<uint8_t>(t); };
  catalogue.Add({
      .name = "Required.Malformed.SizeBelowHeader",
      .spec = "intro(5): size[4] counts the whole message including the 7-byte header; " + std::string(kMalformedSpec),
      .needs = {},
      .run = [=](CaseContext& c) {
        ExpectRefusal(c, FrameBuilder().U32(0).FrameWithSize(type(MsgType::kTclunk), 1, 4), "a frame with size=4");
      },
  });
  catalogue.Add({
      .name = "Required.Malformed.SizeZero",
      .spec = kMalformedSpec,
      .needs = {},
      .run = [=](CaseContext& c) {
        ExpectRefusal(c, FrameBuilder().U32(0).FrameWithSize(type(MsgType::kTclunk), 1, 0), "a frame with size=0");
      },
  });
  catalogue.Add({
      .name = "Required.Malformed.UnknownTypeRefused",
      .spec = "spec/9p2000.L.md §1.2: \"A p9x server answers a request of such a type with Rlerror(EOPNOTSUPP) "
              "if the frame is otherwise well formed, and closes the connection if it cannot find the frame's end\"",
      .needs = {},
      .run = [=](CaseContext& c) {
        ExpectRefusal(c, FrameBuilder().U32(1).U32(2).Frame(250, 1), "a frame of type 250");
      },
  });
  catalogue.Add({
      .name = "Required.Malformed.Legacy9P2000TypeRefused",
      .spec = "spec/9p2000.L.md §1.2: Topen (112), Tcreate, Tstat, Twstat are not 9P2000.L messages and get "
              "Rlerror(EOPNOTSUPP)",
      .needs = {},
      .run = [=](CaseContext& c) {
        // 9P2000 Topen{fid, mode}: well formed in 9P2000, not a 9P2000.L message.
        ExpectRefusal(c, FrameBuilder().U32(1).U8(0).Frame(112, 1), "a 9P2000 Topen");
      },
  });
  catalogue.Add({
      .name = "Required.Malformed.ReplyTypeSentToServer",
      .spec = "intro(5): clients send T-messages and servers answer with R-messages; " + std::string(kMalformedSpec),
      .needs = {},
      .run = [=](CaseContext& c) {
        ExpectRefusal(c, FrameBuilder().U16(0).Frame(type(MsgType::kRwalk), 1), "an Rwalk sent to the server");
      },
  });
  catalogue.Add({
      .name = "Required.Malformed.StringPastEnd",
      .spec = kMalformedSpec,
      .needs = {},
      .run = [=](CaseContext& c) {
        // Twalk{fid=1 newfid=2 nwname=1 wname: length 500, 3 bytes present}.
        FrameBuilder b;
        b.U32(1).U32(2).U16(1).U16(500).U8('a').U8('b').U8('c');
        ExpectRefusal(c, b.Frame(type(MsgType::kTwalk), 1), "a Twalk whose name runs past the frame");
      },
  });
  catalogue.Add({
      .name = "Required.Malformed.TrailingBytes",
      .spec = kMalformedSpec,
      .needs = {},
      .run = [=](CaseContext& c) {
        ExpectRefusal(c, FrameBuilder().U32(0x7ead0005u).U16(0xbeef).Frame(type(MsgType::kTclunk), 1),
                      "a Tclunk with 2 trailing bytes");
      },
  });
  catalogue.Add({
      .name = "Required.Malformed.TruncatedFixedField",
      .spec = kMalformedSpec,
      .needs = {},
      .run = [=](CaseContext& c) {
        // Tgetattr needs fid[4] request_mask[8]; send only the fid.
        ExpectRefusal(c, FrameBuilder().U32(1).Frame(type(MsgType::kTgetattr), 1), "a Tgetattr without its mask");
      },
  });
  catalogue.Add({
      .name = "Required.Malformed.WalkCountPastEnd",
      .spec = kMalformedSpec,
      .needs = {},
      .run = [=](CaseContext& c) {
        // nwname=3 with a single name present.
        ExpectRefusal(c, FrameBuilder().U32(1).U32(2).U16(3).Str("a").Frame(type(MsgType::kTwalk), 1),
                      "a Twalk with nwname=3 and one name");
      },
  });

  // The invalid vectors of spec/vectors, each a case.
  std::string error;
  for (InvalidVector& v : LoadInvalidVectors(vectors_dir, &error)) {
    catalogue.Add({
        .name = "Required.Malformed.Vector" + v.case_suffix,
        .spec = std::string(kMalformedSpec) + " (spec/vectors/" + v.file + ": " + v.expected_error + ")",
        .needs = {},
        .run = [v](CaseContext& c) { SendVector(c, v); },
    });
  }

}

}  // namespace p9x::conformance
