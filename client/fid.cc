// SPDX-License-Identifier: MIT
// Fid handles (client.h): walk, open and create, attributes, xattrs, windowed reads and writes,
// directory reading and the namespace operations, each over the Client's typed calls.
#include <algorithm>
#include <cstring>
#include <deque>

#include "client/client.h"
#include "codec/dirent.h"

namespace p9x::client {
namespace {

// Requests kept in flight by ReadAt/WriteAt: enough to fill a loopback pipe, few enough that
// an error stops the transfer quickly.
constexpr size_t kIoWindow = 8;

}  // namespace

Fid::Fid(Client* client, uint32_t fid, const Qid& qid)
    : client_(client), fid_(fid), qid_(qid), generation_(client->generation()) {}

Fid::Fid(Fid&& other) noexcept
    : client_(std::exchange(other.client_, nullptr)),
      fid_(std::exchange(other.fid_, kNoFid)),
      qid_(other.qid_),
      iounit_(other.iounit_),
      opened_(other.opened_),
      generation_(other.generation_) {}

Fid& Fid::operator=(Fid&& other) noexcept {
  if (this != &other) {
    (void)Clunk();
    client_ = std::exchange(other.client_, nullptr);
    fid_ = std::exchange(other.fid_, kNoFid);
    qid_ = other.qid_;
    iounit_ = other.iounit_;
    opened_ = other.opened_;
    generation_ = other.generation_;
  }
  return *this;
}

Fid::~Fid() { (void)Clunk(); }

void Fid::Reset() {
  client_ = nullptr;
  fid_ = kNoFid;
  opened_ = false;
  iounit_ = 0;
}

Result<void> Fid::Clunk() {
  if (!client_) return {};
  Client* client = client_;
  const uint32_t fid = fid_;
  const bool stale = generation_ != client->generation();
  Reset();
  if (stale) return {};  // the Tversion since freed it on both ends (and reset the pool)
  auto reply = client->Clunk(fid);
  // clunk(5): "the fid is clunked even if the clunk returns an error". A timed-out or failed
  // transport leaves the server's state unknown: the number is not reused.
  if (reply || reply.error().is_remote()) client->FreeFid(fid);
  if (!reply) return Unexpected(reply.error());
  return {};
}

Result<void> Fid::Remove() {
  if (!client_) return Unexpected(Error::Usage(Errno::kEBADF, "Remove on an empty Fid"));
  Client* client = client_;
  const uint32_t fid = fid_;
  Reset();
  auto reply = client->Remove(fid);
  // remove(5): "The fid is clunked even if the remove fails."
  if (reply || reply.error().is_remote()) client->FreeFid(fid);
  if (!reply) return Unexpected(reply.error());
  return {};
}

Result<Fid> Fid::Walk(std::string_view path) const {
  std::vector<std::string> names;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string_view::npos) slash = path.size();
    std::string_view part = path.substr(pos, slash - pos);
    if (!part.empty() && part != ".") names.emplace_back(part);
    pos = slash + 1;
  }
  return WalkNames(names);
}

Result<Fid> Fid::WalkNames(std::span<const std::string> names) const {
  if (!client_) return Unexpected(Error::Usage(Errno::kEBADF, "Walk on an empty Fid"));
  auto newfid = client_->AllocateFid();
  if (!newfid) return Unexpected(newfid.error());
  uint32_t from = fid_;
  Qid qid = qid_;
  size_t done = 0;
  bool created = false;
  do {
    const size_t n = std::min<size_t>(names.size() - done, kMaxWalkElements);
    std::vector<std::string_view> step(names.begin() + static_cast<ptrdiff_t>(done),
                                       names.begin() + static_cast<ptrdiff_t>(done + n));
    auto reply = client_->Walk(from, *newfid, step);
    if (!reply || (*reply)->wqids.count != n) {
      // walk(5): "If the first element cannot be walked for any reason, Rerror is returned.
      // Otherwise, the walk will return an Rwalk message containing nwqid qids ... If nwqid <
      // nwname, ... newfid is not affected." So newfid exists only if an earlier step made it.
      Fid partial = created ? Fid(client_, *newfid, qid) : Fid();
      if (!created) client_->FreeFid(*newfid);
      if (!reply) return Unexpected(reply.error());
      const size_t failed = done + (*reply)->wqids.count;
      return Unexpected(Error{Error::Kind::kRemote, Errno::kENOENT, "walk stopped at \"" + names[failed] + "\"", {}});
    }
    if (n > 0) qid = (*reply)->wqids.view().back();
    created = true;
    from = *newfid;
    done += n;
  } while (done < names.size());
  return Fid(client_, *newfid, qid);
}

// Linux's XATTR_SIZE_MAX and XATTR_LIST_MAX: no value or name list is larger, so a bigger size
// announced by a server is not allocated.
constexpr uint64_t kMaxXattrSize = 65536;

Result<std::vector<uint8_t>> Fid::XattrGet(std::string_view name) const {
  if (!client_) return Unexpected(Error::Usage(Errno::kEBADF, "XattrGet on an empty Fid"));
  auto newfid = client_->AllocateFid();
  if (!newfid) return Unexpected(newfid.error());
  auto reply = client_->Xattrwalk(fid_, *newfid, name);
  if (!reply) {
    client_->FreeFid(*newfid);
    return Unexpected(reply.error());
  }
  Fid value_fid(client_, *newfid, qid_);
  const uint64_t size = (*reply)->size;
  if (size > kMaxXattrSize) return Unexpected(Error::Protocol("Rxattrwalk size " + std::to_string(size)));
  std::vector<uint8_t> value(static_cast<size_t>(size));
  auto n = value_fid.ReadAt(0, value);
  if (!n) return Unexpected(n.error());
  value.resize(*n);
  if (auto clunked = value_fid.Clunk(); !clunked) return Unexpected(clunked.error());
  return value;
}

Result<std::vector<std::string>> Fid::XattrList() const {
  auto list = XattrGet("");
  if (!list) return Unexpected(list.error());
  std::vector<std::string> names;
  size_t start = 0;
  for (size_t i = 0; i < list->size(); ++i) {
    if ((*list)[i] != 0) continue;
    if (i > start) names.emplace_back(reinterpret_cast<const char*>(list->data() + start), i - start);
    start = i + 1;
  }
  return names;
}

Result<void> Fid::XattrSet(std::string_view name, std::span<const uint8_t> value, uint32_t flags) const {
  auto writer = Walk("");
  if (!writer) return Unexpected(writer.error());
  auto created = client_->Xattrcreate(writer->number(), name, value.size(), flags);
  if (!created) return Unexpected(created.error());
  if (!value.empty()) {
    if (auto written = writer->WriteAt(0, value); !written) return Unexpected(written.error());
  }
  return writer->Clunk();
}

Result<void> Fid::XattrRemove(std::string_view name) const {
  auto writer = Walk("");
  if (!writer) return Unexpected(writer.error());
  auto created = client_->Xattrcreate(writer->number(), name, 0, kXattrReplace);
  if (!created) return Unexpected(created.error());
  return writer->Clunk();
}

Result<void> Fid::Open(uint32_t flags) {
  if (!client_) return Unexpected(Error::Usage(Errno::kEBADF, "Open on an empty Fid"));
  auto reply = client_->Lopen(fid_, flags);
  if (!reply) return Unexpected(reply.error());
  qid_ = (*reply)->qid;
  iounit_ = (*reply)->iounit;
  opened_ = true;
  return {};
}

Result<void> Fid::Create(std::string_view name, uint32_t flags, uint32_t mode, uint32_t gid) {
  if (!client_) return Unexpected(Error::Usage(Errno::kEBADF, "Create on an empty Fid"));
  auto reply = client_->Lcreate(fid_, name, flags, mode, gid);
  if (!reply) return Unexpected(reply.error());
  qid_ = (*reply)->qid;
  iounit_ = (*reply)->iounit;
  opened_ = true;
  return {};
}

Result<Rgetattr> Fid::GetAttr(uint64_t request_mask) const {
  if (!client_) return Unexpected(Error::Usage(Errno::kEBADF, "GetAttr on an empty Fid"));
  auto reply = client_->Getattr(fid_, request_mask);
  if (!reply) return Unexpected(reply.error());
  return reply->msg();  // Rgetattr has no views: safe to copy out
}

Result<void> Fid::SetAttr(Tsetattr request) const {
  if (!client_) return Unexpected(Error::Usage(Errno::kEBADF, "SetAttr on an empty Fid"));
  request.fid = fid_;
  auto reply = client_->Setattr(request);
  if (!reply) return Unexpected(reply.error());
  return {};
}

Result<Rstatfs> Fid::StatFs() const {
  if (!client_) return Unexpected(Error::Usage(Errno::kEBADF, "StatFs on an empty Fid"));
  auto reply = client_->Statfs(fid_);
  if (!reply) return Unexpected(reply.error());
  return reply->msg();
}

namespace {

// The largest count for one Tread/Twrite on `fid`. open(5): iounit "may be zero. If it is not,
// it is the maximum number of bytes that are guaranteed to be read from or written to the file
// without breaking the I/O transfer into multiple 9P messages".
uint32_t IoSize(const Client& client, const Fid& fid) {
  uint32_t size = client.max_io();
  if (fid.iounit() != 0) size = std::min(size, fid.iounit());
  return std::max<uint32_t>(size, 1);
}

// Windowed pipelined I/O over bytes [0, total): up to kIoWindow requests of at most `chunk`
// bytes in flight, their replies consumed in offset order. start(at, len) sends the request for
// [at, at + len); take(at, len, reply) checks one reply and returns how many bytes it moved. A
// short transfer ends its window (the window's later replies are awaited and dropped) and the
// next window starts at the first byte not moved; a transfer of 0 bytes ends the whole run.
// Returns the bytes moved from 0 on.
template <class R, class Start, class Take>
Result<size_t> WindowedIo(size_t total, uint32_t chunk, Start start, Take take) {
  size_t done = 0;
  while (done < total) {
    struct InFlight {
      size_t at;
      uint32_t len;
      Pending<R> pending;
    };
    std::deque<InFlight> window;
    for (size_t issued = done; window.size() < kIoWindow && issued < total;) {
      const uint32_t len = static_cast<uint32_t>(std::min<size_t>(chunk, total - issued));
      Result<Pending<R>> pending = start(issued, len);
      if (!pending) return Unexpected(pending.error());
      window.push_back({issued, len, std::move(*pending)});
      issued += len;
    }
    bool short_transfer = false;
    bool ended = false;
    for (auto& w : window) {
      auto reply = w.pending.Wait();
      if (short_transfer) continue;
      if (!reply) return Unexpected(reply.error());
      Result<uint32_t> moved = take(w.at, w.len, reply->msg());
      if (!moved) return Unexpected(moved.error());
      done = w.at + *moved;
      if (*moved < w.len) {
        short_transfer = true;
        ended = *moved == 0;
      }
    }
    if (ended) break;
  }
  return done;
}

}  // namespace

Result<size_t> Fid::ReadAt(uint64_t offset, std::span<uint8_t> out) const {
  if (!client_) return Unexpected(Error::Usage(Errno::kEBADF, "Read on an empty Fid"));
  // A short read ends the window; 0 bytes is the end of the file.
  return WindowedIo<Rread>(
      out.size(), IoSize(*client_, *this),
      [&](size_t at, uint32_t len) {
        return client_->Start(Tread{fid_, offset + at, len});
      },
      [&](size_t at, uint32_t len, const Rread& reply) -> Result<uint32_t> {
        const auto data = reply.data.bytes;
        if (data.size() > len) {
          return Unexpected(Error::Protocol("Rread returned " + std::to_string(data.size()) + " bytes for a count of " +
                                            std::to_string(len)));
        }
        std::memcpy(out.data() + at, data.data(), data.size());
        return static_cast<uint32_t>(data.size());
      });
}

Result<std::vector<uint8_t>> Fid::ReadAll(uint64_t offset) const {
  if (!client_) return Unexpected(Error::Usage(Errno::kEBADF, "Read on an empty Fid"));
  std::vector<uint8_t> out;
  const size_t step = static_cast<size_t>(IoSize(*client_, *this)) * kIoWindow;
  while (true) {
    const size_t at = out.size();
    out.resize(at + step);
    auto n = ReadAt(offset + at, std::span<uint8_t>(out).subspan(at));
    if (!n) return Unexpected(n.error());
    out.resize(at + *n);
    if (*n < step) return out;
  }
}

Result<void> Fid::WriteAt(uint64_t offset, std::span<const uint8_t> data) const {
  if (!client_) return Unexpected(Error::Usage(Errno::kEBADF, "Write on an empty Fid"));
  // After a short write, later chunks may have been written too; they are written again.
  auto written = WindowedIo<Rwrite>(
      data.size(), IoSize(*client_, *this),
      [&](size_t at, uint32_t len) {
        return client_->Start(Twrite{fid_, offset + at, Bytes{data.subspan(at, len)}});
      },
      [&](size_t, uint32_t len, const Rwrite& reply) -> Result<uint32_t> {
        if (reply.count > len) {
          return Unexpected(Error::Protocol("Rwrite count " + std::to_string(reply.count) + " exceeds the " +
                                            std::to_string(len) + " bytes sent"));
        }
        if (reply.count == 0) return Unexpected(Error{Error::Kind::kRemote, Errno::kEIO, "Rwrite count 0", {}});
        return reply.count;
      });
  if (!written) return Unexpected(written.error());
  return {};
}

Result<std::vector<DirEntry>> Fid::ReadDir() const {
  if (!client_) return Unexpected(Error::Usage(Errno::kEBADF, "ReadDir on an empty Fid"));
  std::vector<DirEntry> entries;
  uint64_t offset = 0;
  const uint32_t count = IoSize(*client_, *this);
  const Dialect dialect = client_->wire().dialect;
  while (true) {
    auto reply = client_->Readdir(fid_, offset, count);
    if (!reply) return Unexpected(reply.error());
    DirentReader reader((*reply)->data.bytes, dialect);
    Dirent d;
    size_t n = 0;
    while (reader.Next(&d)) {
      // A name is one path component: callers join it to paths (`p9x ls`, `p9x get -r`), so a
      // '/' or a NUL in it, or an empty one, would name another file than the entry.
      if (d.name.empty() || d.name.find_first_of(std::string_view("/\0", 2)) != std::string_view::npos) {
        std::string shown;
        for (char ch : d.name) shown += ch == '\0' ? std::string("\\0") : std::string(1, ch);
        return Unexpected(Error::Protocol("Rreaddir lists an entry named \"" + shown +
                                          "\": a name is not empty and holds no '/' or NUL"));
      }
      entries.push_back(DirEntry{d.qid, d.offset, d.type, std::string(d.name)});
      offset = d.offset;
      ++n;
    }
    if (!reader.ok()) {
      return Unexpected(Error::Protocol("malformed directory entry at byte " + std::to_string(reader.error_offset()) +
                                        " of Rreaddir"));
    }
    if (n == 0) return entries;
    if (entries.size() > (1u << 24)) return Unexpected(Error::Protocol("directory offsets do not advance"));
  }
}

Result<std::string> Fid::ReadLink() const {
  if (!client_) return Unexpected(Error::Usage(Errno::kEBADF, "ReadLink on an empty Fid"));
  auto reply = client_->Readlink(fid_);
  if (!reply) return Unexpected(reply.error());
  return std::string((*reply)->target);
}

Result<Qid> Fid::Mkdir(std::string_view name, uint32_t mode, uint32_t gid) const {
  if (!client_) return Unexpected(Error::Usage(Errno::kEBADF, "Mkdir on an empty Fid"));
  auto reply = client_->Mkdir(fid_, name, mode, gid);
  if (!reply) return Unexpected(reply.error());
  return (*reply)->qid;
}

Result<Qid> Fid::Symlink(std::string_view name, std::string_view target, uint32_t gid) const {
  if (!client_) return Unexpected(Error::Usage(Errno::kEBADF, "Symlink on an empty Fid"));
  auto reply = client_->Symlink(fid_, name, target, gid);
  if (!reply) return Unexpected(reply.error());
  return (*reply)->qid;
}

Result<void> Fid::Link(std::string_view name, const Fid& target) const {
  if (!client_) return Unexpected(Error::Usage(Errno::kEBADF, "Link on an empty Fid"));
  auto reply = client_->Link(fid_, target.number(), name);
  if (!reply) return Unexpected(reply.error());
  return {};
}

namespace {
bool NotImplemented(const Error& e) {
  return e.is_remote() && (e.code == Errno::kEOPNOTSUPP || e.code == Errno::kENOSYS);
}
}  // namespace

Result<void> Fid::Unlink(std::string_view name, uint32_t flags) const {
  if (!client_) return Unexpected(Error::Usage(Errno::kEBADF, "Unlink on an empty Fid"));
  auto reply = client_->Unlinkat(fid_, name, flags);
  if (reply) return {};
  if (!NotImplemented(reply.error())) return Unexpected(reply.error());
  std::string one(name);
  auto child = WalkNames(std::span<const std::string>(&one, 1));
  if (!child) return Unexpected(child.error());
  return child->Remove();
}

Result<void> Fid::Rename(std::string_view oldname, const Fid& newdir, std::string_view newname) const {
  if (!client_) return Unexpected(Error::Usage(Errno::kEBADF, "Rename on an empty Fid"));
  auto reply = client_->Renameat(fid_, oldname, newdir.number(), newname);
  if (reply) return {};
  if (!NotImplemented(reply.error())) return Unexpected(reply.error());
  std::string one(oldname);
  auto child = WalkNames(std::span<const std::string>(&one, 1));
  if (!child) return Unexpected(child.error());
  auto renamed = client_->Rename(child->number(), newdir.number(), newname);
  if (!renamed) return Unexpected(renamed.error());
  return {};
}

}  // namespace p9x::client
