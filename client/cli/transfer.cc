// SPDX-License-Identifier: MIT
// The commands that move file contents: p9x cat, get and put (get and put stream in chunks and
// show progress on a terminal, client/cli/progress.h).
#include "client/cli/cli.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <optional>
#include <span>

#include "client/cli/progress.h"

namespace p9x::client::cli {

namespace {

// get and put move this much per step: large enough to keep kIoWindow requests in flight, small
// enough for the progress line to move often.
constexpr size_t kTransferChunk = 4 << 20;

// A local FILE*, closed at the end of its scope unless it is stdin or stdout.
class LocalFile {
 public:
  LocalFile(FILE* f, bool owned) : f_(f), owned_(owned) {}
  ~LocalFile() { Close(); }
  LocalFile(const LocalFile&) = delete;
  LocalFile& operator=(const LocalFile&) = delete;
  FILE* get() const { return f_; }
  // fclose (or fflush for stdout); false with errno on a write error.
  bool Close() {
    if (f_ == nullptr) return true;
    const int rc = owned_ ? std::fclose(f_) : std::fflush(f_);
    f_ = nullptr;
    return rc == 0;
  }

 private:
  FILE* f_;
  bool owned_;
};

Result<std::vector<uint8_t>> ReadRemote(Context& ctx, const std::string& path) {
  auto fid = WalkTo(ctx, path);
  if (!fid) return Unexpected(fid.error());
  if (fid->is_dir()) return Unexpected(Error{Error::Kind::kRemote, Errno::kEISDIR, "", {}});
  auto opened = fid->Open(kOpenRdonly);
  if (!opened) return Unexpected(opened.error());
  return fid->ReadAll();
}

}  // namespace

Outcome RunCat(Context& ctx, const std::vector<std::string>& args) {
  if (args.empty()) return UsageFailure("cat needs at least one PATH");
  for (const auto& path : args) {
    auto data = ReadRemote(ctx, path);
    if (!data) return Fail("cat " + Shown(path), data.error());
    if (!data->empty() && std::fwrite(data->data(), 1, data->size(), stdout) != data->size()) {
      return LocalFailure("cat: writing standard output", errno);
    }
  }
  return std::nullopt;
}

Outcome RunGet(Context& ctx, const std::vector<std::string>& args) {
  if (args.size() != 2) return UsageFailure("get needs REMOTE LOCAL");
  const std::string what = "get " + Shown(args[0]);
  auto fid = WalkTo(ctx, args[0]);
  if (!fid) return Fail(what, fid.error());
  if (fid->is_dir()) return Fail(what, Error{Error::Kind::kRemote, Errno::kEISDIR, "", {}});
  std::optional<uint64_t> total;  // for the progress line only: the file may change meanwhile
  if (auto attr = fid->GetAttr(); attr) total = attr->size;
  if (auto opened = fid->Open(kOpenRdonly); !opened) return Fail(what, opened.error());
  LocalFile out = args[1] == "-" ? LocalFile(stdout, false) : LocalFile(std::fopen(args[1].c_str(), "wb"), true);
  if (!out.get()) return LocalFailure("get: open local " + args[1], errno);
  Progress progress(what, total, ctx.g.json);
  std::vector<uint8_t> chunk(kTransferChunk);
  uint64_t done = 0;
  while (true) {
    auto n = fid->ReadAt(done, chunk);
    if (!n) return Fail(what, n.error());
    if (*n > 0 && std::fwrite(chunk.data(), 1, *n, out.get()) != *n) {
      return LocalFailure("get: write local " + args[1], errno);
    }
    done += *n;
    progress.Update(done);
    if (*n < chunk.size()) break;  // ReadAt returns less only at end of file
  }
  if (!out.Close()) return LocalFailure("get: write local " + args[1], errno);
  progress.Finish(done);
  if (ctx.g.json) {
    ctx.out = json{{"remote", args[0]}, {"local", args[1]}, {"bytes", done}};
    ctx.out_is_object = true;
  }
  return std::nullopt;
}

Outcome RunPut(Context& ctx, const std::vector<std::string>& args) {
  if (args.size() != 2) return UsageFailure("put needs LOCAL REMOTE");
  uint32_t mode = 0644;
  std::optional<uint64_t> total;
  LocalFile in = args[0] == "-" ? LocalFile(stdin, false) : LocalFile(std::fopen(args[0].c_str(), "rb"), true);
  if (!in.get()) return LocalFailure("put: open local " + args[0], errno);
  if (struct stat st{}; args[0] != "-" && fstat(fileno(in.get()), &st) == 0) {
    mode = st.st_mode & 07777;
    if (S_ISREG(st.st_mode)) total = static_cast<uint64_t>(st.st_size);
  }
  std::string parent, name;
  if (!SplitParent(args[1], &parent, &name)) return UsageFailure("put: REMOTE must name a file: " + args[1]);
  auto dir = WalkTo(ctx, parent);
  if (!dir) return Fail("put " + Shown(parent), dir.error());
  auto file = dir->Walk("");
  if (!file) return Fail("put " + args[1], file.error());
  auto created = file->Create(name, kOpenWronly | kOpenCreate | kOpenTrunc, mode, CurrentGid());
  if (!created) {
    // Tlcreate on an existing name: some servers refuse with EEXIST; open it instead.
    if (!(created.error().is_remote() && created.error().code == Errno::kEEXIST)) {
      return Fail("put " + args[1], created.error());
    }
    auto existing = dir->Walk(name);
    if (!existing) return Fail("put " + args[1], existing.error());
    auto opened = existing->Open(kOpenWronly | kOpenTrunc);
    if (!opened) return Fail("put " + args[1], opened.error());
    *file = std::move(*existing);
  }
  Progress progress("put " + args[1], total, ctx.g.json);
  std::vector<uint8_t> chunk(kTransferChunk);
  uint64_t done = 0;
  while (true) {
    const size_t n = std::fread(chunk.data(), 1, chunk.size(), in.get());
    if (n < chunk.size() && std::ferror(in.get())) return LocalFailure("put: read local " + args[0], errno);
    if (n > 0) {
      auto written = file->WriteAt(done, std::span<const uint8_t>(chunk.data(), n));
      if (!written) return Fail("put " + args[1], written.error());
    }
    done += n;
    progress.Update(done);
    if (n < chunk.size()) break;
  }
  auto clunked = file->Clunk();
  if (!clunked) return Fail("put " + args[1], clunked.error());
  progress.Finish(done);
  if (ctx.g.json) {
    ctx.out = json{{"local", args[0]}, {"remote", args[1]}, {"bytes", done}};
    ctx.out_is_object = true;
  }
  return std::nullopt;
}

}  // namespace p9x::client::cli
