// SPDX-License-Identifier: MIT
// Named constants of 9P2000.L, each with where it is defined. No magic numbers elsewhere.
#pragma once

#include <cstdint>

namespace p9x {

// version(5): "The tag should be NOTAG (value (ushort)~0) for a version message."
inline constexpr uint16_t kNoTag = 0xFFFF;
// attach(5): "If the client does not wish to authenticate the connection, ... afid to NOFID".
inline constexpr uint32_t kNoFid = 0xFFFFFFFF;
// diod protocol.md: n_uname is "(u32)~0" when the numeric uid is not given.
inline constexpr uint32_t kNoUname = 0xFFFFFFFF;

// walk(5): "To simplify the implementation of the servers, a maximum of sixteen name elements
// or qids may be packed in a single message." (Linux P9_MAXWELEM)
inline constexpr uint16_t kMaxWalkElements = 16;

// size[4] type[1] tag[2]: every frame starts with these 7 bytes, and size counts itself.
inline constexpr uint32_t kHeaderSize = 7;
// Linux P9_IOHDRSZ: "ample room for Twrite/Rread header"; Twrite's is 7+4+8+4 = 23 bytes.
// iounit and Treaddir counts are computed as msize - kIoHeaderSize.
inline constexpr uint32_t kIoHeaderSize = 24;
// Linux P9_READDIRHDRSZ.
inline constexpr uint32_t kReaddirHeaderSize = 24;
// Rread/Rreaddir header: size[4] type[1] tag[2] count[4].
inline constexpr uint32_t kRreadHeaderSize = 11;

// The version strings (version(5); "9P2000.L" is diod protocol.md's dialect string).
inline constexpr char kVersion9P2000L[] = "9P2000.L";
inline constexpr char kVersionUnknown[] = "unknown";

// qid.type bits (Linux enum p9_qid_t).
inline constexpr uint8_t kQtDir = 0x80;
inline constexpr uint8_t kQtAppend = 0x40;
inline constexpr uint8_t kQtExcl = 0x20;
inline constexpr uint8_t kQtMount = 0x10;
inline constexpr uint8_t kQtAuth = 0x08;
inline constexpr uint8_t kQtTmp = 0x04;
inline constexpr uint8_t kQtSymlink = 0x02;
inline constexpr uint8_t kQtLink = 0x01;
inline constexpr uint8_t kQtFile = 0x00;

// Tgetattr request_mask / Rgetattr valid bits (Linux P9_STATS_*, diod P9_GETATTR_*).
inline constexpr uint64_t kGetattrMode = 0x00000001;
inline constexpr uint64_t kGetattrNlink = 0x00000002;
inline constexpr uint64_t kGetattrUid = 0x00000004;
inline constexpr uint64_t kGetattrGid = 0x00000008;
inline constexpr uint64_t kGetattrRdev = 0x00000010;
inline constexpr uint64_t kGetattrAtime = 0x00000020;
inline constexpr uint64_t kGetattrMtime = 0x00000040;
inline constexpr uint64_t kGetattrCtime = 0x00000080;
inline constexpr uint64_t kGetattrIno = 0x00000100;
inline constexpr uint64_t kGetattrSize = 0x00000200;
inline constexpr uint64_t kGetattrBlocks = 0x00000400;
inline constexpr uint64_t kGetattrBtime = 0x00000800;
inline constexpr uint64_t kGetattrGen = 0x00001000;
inline constexpr uint64_t kGetattrDataVersion = 0x00002000;
inline constexpr uint64_t kGetattrBasic = 0x000007ff;  // everything up to BLOCKS
inline constexpr uint64_t kGetattrAll = 0x00003fff;

// Tsetattr valid bits (diod P9_SETATTR_*, Linux P9_ATTR_*). A time bit without its _SET bit
// means "set to the server's current time" (UTIME_NOW).
inline constexpr uint32_t kSetattrMode = 0x00000001;
inline constexpr uint32_t kSetattrUid = 0x00000002;
inline constexpr uint32_t kSetattrGid = 0x00000004;
inline constexpr uint32_t kSetattrSize = 0x00000008;
inline constexpr uint32_t kSetattrAtime = 0x00000010;
inline constexpr uint32_t kSetattrMtime = 0x00000020;
inline constexpr uint32_t kSetattrCtime = 0x00000040;
inline constexpr uint32_t kSetattrAtimeSet = 0x00000080;
inline constexpr uint32_t kSetattrMtimeSet = 0x00000100;

// Tlopen/Tlcreate flags: Linux open(2) flags as carried by 9P2000.L (Linux P9_DOTL_*, octal).
inline constexpr uint32_t kOpenRdonly = 00000000;
inline constexpr uint32_t kOpenWronly = 00000001;
inline constexpr uint32_t kOpenRdwr = 00000002;
inline constexpr uint32_t kOpenNoaccess = 00000003;
inline constexpr uint32_t kOpenAccmode = 00000003;
inline constexpr uint32_t kOpenCreate = 00000100;
inline constexpr uint32_t kOpenExcl = 00000200;
inline constexpr uint32_t kOpenNoctty = 00000400;
inline constexpr uint32_t kOpenTrunc = 00001000;
inline constexpr uint32_t kOpenAppend = 00002000;
inline constexpr uint32_t kOpenNonblock = 00004000;
inline constexpr uint32_t kOpenDsync = 00010000;
inline constexpr uint32_t kOpenFasync = 00020000;
inline constexpr uint32_t kOpenDirect = 00040000;
inline constexpr uint32_t kOpenLargefile = 00100000;
inline constexpr uint32_t kOpenDirectory = 00200000;
inline constexpr uint32_t kOpenNofollow = 00400000;
inline constexpr uint32_t kOpenNoatime = 01000000;
inline constexpr uint32_t kOpenCloexec = 02000000;
inline constexpr uint32_t kOpenSync = 04000000;

// Tunlinkat flags (Linux P9_DOTL_AT_REMOVEDIR).
inline constexpr uint32_t kAtRemovedir = 0x200;

// Tlock/Tgetlock types, Tlock flags, Rlock status (Linux P9_LOCK_*).
inline constexpr uint8_t kLockTypeRdlck = 0;
inline constexpr uint8_t kLockTypeWrlck = 1;
inline constexpr uint8_t kLockTypeUnlck = 2;
inline constexpr uint32_t kLockFlagsBlock = 1;
inline constexpr uint32_t kLockFlagsReclaim = 2;  // "reserved for future use"
inline constexpr uint8_t kLockSuccess = 0;
inline constexpr uint8_t kLockBlocked = 1;
inline constexpr uint8_t kLockError = 2;
inline constexpr uint8_t kLockGrace = 3;

// Txattrcreate flags (Linux XATTR_CREATE, XATTR_REPLACE).
inline constexpr uint32_t kXattrCreate = 1;
inline constexpr uint32_t kXattrReplace = 2;

// Directory entry types in Rreaddir (Linux DT_*: the type byte is d_type, not qid.type).
inline constexpr uint8_t kDtUnknown = 0;
inline constexpr uint8_t kDtFifo = 1;
inline constexpr uint8_t kDtChr = 2;
inline constexpr uint8_t kDtDir = 4;
inline constexpr uint8_t kDtBlk = 6;
inline constexpr uint8_t kDtReg = 8;
inline constexpr uint8_t kDtLnk = 10;
inline constexpr uint8_t kDtSock = 12;

// msize bounds. Linux and QEMU refuse msize < 4096 (P9_MIN_MSIZE); the Linux client defaults to
// 128 KiB. p9x serves up to 16 MiB so that 4 MiB-class msizes (QEMU's largest) have headroom.
inline constexpr uint32_t kMinMsize = 4096;
inline constexpr uint32_t kDefaultMsize = 128 * 1024;
inline constexpr uint32_t kMaxMsize = 16 * 1024 * 1024;

}  // namespace p9x
