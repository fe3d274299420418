// SPDX-License-Identifier: MIT
/* p9xt — small static helper for the guest tests (busybox lacks these tools).
 *
 *   p9xt mmap FILE             MAP_SHARED write a pattern, msync, munmap; verify with read()
 *                              and a fresh read-only mapping. Exit 3 if a shared writable
 *                              mapping is refused (cache=none maps read-only by design).
 *   p9xt mmap-ro FILE          map FILE read-only, compare every byte with read()
 *   p9xt setxattr FILE NAME VALUE | getxattr FILE NAME | listxattr FILE | removexattr FILE NAME
 *   p9xt dino DIR              one line per entry of DIR, as getdents returns it: NAME D_INO
 *   p9xt fsx FILE NOPS SEED    fsx-style random operations (write, read, truncate, append,
 *                              mmap read/write, fsync, close+reopen) checked against an
 *                              in-memory model; full compare every 100 ops and at the end.
 * Prints one line; exit 0 = ok, 1 = failure, 2 = usage, 3 = mmap refused.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#define MAXLEN (128 * 1024)
#define MAXIO (16 * 1024)

static int fail(const char *what) {
  printf("FAIL %s: %s\n", what, strerror(errno));
  return 1;
}

static int read_all(int fd, unsigned char *buf, size_t len) {
  size_t off = 0;
  while (off < len) {
    ssize_t n = pread(fd, buf + off, len - off, off);
    if (n < 0) return -1;
    if (n == 0) break;
    off += n;
  }
  return (int)(off == len ? 0 : 1);
}

static int cmd_mmap(const char *path) {
  const size_t len = 64 * 1024 + 123;
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return fail("open");
  if (ftruncate(fd, len) != 0) return fail("ftruncate");
  unsigned char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED) {
    printf("REFUSED shared writable mmap: %s\n", strerror(errno));
    close(fd);
    return 3;
  }
  for (size_t i = 0; i < len; i++) m[i] = (unsigned char)(i * 7 + 3);
  if (msync(m, len, MS_SYNC) != 0) return fail("msync");
  if (munmap(m, len) != 0) return fail("munmap");
  close(fd);
  unsigned char *buf = malloc(len);
  fd = open(path, O_RDONLY);
  if (fd < 0) return fail("reopen");
  if (read_all(fd, buf, len) != 0) return fail("read back");
  for (size_t i = 0; i < len; i++)
    if (buf[i] != (unsigned char)(i * 7 + 3)) {
      printf("FAIL read() after mmap write differs at %zu\n", i);
      return 1;
    }
  m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED) return fail("mmap ro");
  if (memcmp(m, buf, len) != 0) {
    printf("FAIL read-only mapping differs from read()\n");
    return 1;
  }
  printf("ok mmap write+msync %zu bytes, read back by read() and mmap\n", len);
  return 0;
}

static int cmd_mmap_ro(const char *path) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return fail("open");
  struct stat st;
  if (fstat(fd, &st) != 0 || st.st_size == 0) return fail("fstat/empty");
  unsigned char *buf = malloc(st.st_size);
  if (read_all(fd, buf, st.st_size) != 0) return fail("read");
  unsigned char *m = mmap(NULL, st.st_size, PROT_READ, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED) return fail("mmap");
  if (memcmp(m, buf, st.st_size) != 0) {
    printf("FAIL mapping differs from read()\n");
    return 1;
  }
  printf("ok read-only mmap of %lld bytes matches read()\n", (long long)st.st_size);
  return 0;
}

/* ---- fsx ---- */
static uint64_t rng;
static uint32_t rnd(uint32_t n) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)(rng % n);
}
static unsigned char model[MAXLEN], tmp[MAXLEN];
/* Data for operation op: cheap to make (the guest CPU is emulated), differs between ops. */
static void fill(unsigned char *p, size_t len, long op) {
  unsigned char a = (unsigned char)(op * 131 + 17), b = (unsigned char)(op % 251 + 1);
  for (size_t i = 0; i < len; i++) p[i] = (unsigned char)(a + b * (unsigned char)i + (i >> 9));
}
static size_t mlen;
static int fd;
static const char *fpath;

static int check_range(long op, const char *what, size_t off, size_t len) {
  if (off + len > mlen) len = off < mlen ? mlen - off : 0;
  ssize_t n = pread(fd, tmp, len, off);
  if (n != (ssize_t)len) {
    printf("FAIL op %ld %s: pread(%zu,%zu) returned %zd (%s), model len %zu\n", op, what, off, len, n,
           n < 0 ? strerror(errno) : "short", mlen);
    return 1;
  }
  for (size_t i = 0; i < len; i++)
    if (tmp[i] != model[off + i]) {
      printf("FAIL op %ld %s: byte %zu is 0x%02x, model 0x%02x (len %zu)\n", op, what, off + i, tmp[i],
             model[off + i], mlen);
      return 1;
    }
  return 0;
}

static int check_all(long op, const char *what) {
  struct stat st;
  if (fstat(fd, &st) != 0) return fail("fstat");
  if ((size_t)st.st_size != mlen) {
    printf("FAIL op %ld %s: size %lld, model %zu\n", op, what, (long long)st.st_size, mlen);
    return 1;
  }
  return check_range(op, what, 0, mlen);
}

static int cmd_fsx(const char *path, long nops, uint64_t seed) {
  fpath = path;
  rng = seed * 2654435761u + 88172645463325252ull;
  fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return fail("open");
  mlen = 0;
  /* Is a shared writable mapping allowed (not with cache=none)? */
  int use_mmap = 1;
  if (ftruncate(fd, 4096) != 0) return fail("ftruncate");
  void *probe = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (probe == MAP_FAILED)
    use_mmap = 0;
  else
    munmap(probe, 4096);
  if (ftruncate(fd, 0) != 0) return fail("ftruncate");
  long counts[8] = {0};
  for (long op = 1; op <= nops; op++) {
    uint32_t kind = rnd(100);
    size_t off = rnd(MAXLEN - 1), len = 1 + rnd(MAXIO);
    if (off + len > MAXLEN) len = MAXLEN - off;
    if (kind < 30) { /* write */
      fill(model + off, len, op);
      if (pwrite(fd, model + off, len, off) != (ssize_t)len) return fail("pwrite");
      if (off > mlen) memset(model + mlen, 0, off - mlen);
      if (off + len > mlen) mlen = off + len;
      counts[0]++;
    } else if (kind < 50) { /* read */
      if (mlen && check_range(op, "read", rnd(mlen), len)) return 1;
      counts[1]++;
    } else if (kind < 58) { /* truncate */
      size_t nl = rnd(MAXLEN);
      if (ftruncate(fd, nl) != 0) return fail("ftruncate");
      if (nl > mlen) memset(model + mlen, 0, nl - mlen);
      mlen = nl;
      counts[2]++;
    } else if (kind < 66) { /* append */
      if (mlen + len > MAXLEN) continue;
      int afd = open(path, O_WRONLY | O_APPEND);
      if (afd < 0) return fail("open O_APPEND");
      fill(model + mlen, len, op);
      if (write(afd, model + mlen, len) != (ssize_t)len) return fail("append");
      close(afd);
      mlen += len;
      counts[3]++;
    } else if (kind < 76 && use_mmap && mlen > 0) { /* mmap write inside the file */
      off = rnd(mlen);
      if (off + len > mlen) len = mlen - off;
      size_t pg = off & ~(size_t)4095;
      unsigned char *m = mmap(NULL, off + len - pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, pg);
      if (m == MAP_FAILED) return fail("mmap write");
      fill(model + off, len, op);
      memcpy(m + (off - pg), model + off, len);
      if (msync(m, off + len - pg, MS_SYNC) != 0) return fail("msync");
      munmap(m, off + len - pg);
      counts[4]++;
    } else if (kind < 84 && use_mmap && mlen > 0) { /* mmap read */
      off = rnd(mlen);
      if (off + len > mlen) len = mlen - off;
      size_t pg = off & ~(size_t)4095;
      unsigned char *m = mmap(NULL, off + len - pg, PROT_READ, MAP_SHARED, fd, pg);
      if (m == MAP_FAILED) return fail("mmap read");
      if (memcmp(m + (off - pg), model + off, len) != 0) {
        printf("FAIL op %ld mapread: mapping of [%zu,+%zu) differs from model\n", op, off, len);
        return 1;
      }
      munmap(m, off + len - pg);
      counts[5]++;
    } else if (kind < 92) { /* fsync */
      if (fsync(fd) != 0) return fail("fsync");
      counts[6]++;
    } else { /* close and reopen */
      close(fd);
      fd = open(path, O_RDWR);
      if (fd < 0) return fail("reopen");
      counts[7]++;
    }
    if (op % 100 == 0 && check_all(op, "full compare")) return 1;
  }
  if (fsync(fd) != 0) return fail("final fsync");
  if (check_all(nops, "final compare")) return 1;
  close(fd);
  printf("ok %ld ops len=%zu mmap=%s (w=%ld r=%ld t=%ld a=%ld mw=%ld mr=%ld s=%ld reopen=%ld)\n", nops,
         mlen, use_mmap ? "on" : "off", counts[0], counts[1], counts[2], counts[3], counts[4], counts[5],
         counts[6], counts[7]);
  return 0;
}

/* readdir's own inode numbers, to compare with what stat says */
static int cmd_dino(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return fail("opendir");
  struct dirent *e;
  while ((e = readdir(d)) != NULL) printf("%s %llu\n", e->d_name, (unsigned long long)e->d_ino);
  closedir(d);
  return 0;
}

int main(int argc, char **argv) {
  const char *c = argc > 1 ? argv[1] : "";
  if (!strcmp(c, "mmap") && argc == 3) return cmd_mmap(argv[2]);
  if (!strcmp(c, "mmap-ro") && argc == 3) return cmd_mmap_ro(argv[2]);
  if (!strcmp(c, "dino") && argc == 3) return cmd_dino(argv[2]);
  if (!strcmp(c, "fsx") && argc == 5) return cmd_fsx(argv[2], atol(argv[3]), strtoull(argv[4], 0, 0));
  if (!strcmp(c, "setxattr") && argc == 5) {
    if (setxattr(argv[2], argv[3], argv[4], strlen(argv[4]), 0) != 0) return fail("setxattr");
    printf("ok\n");
    return 0;
  }
  if (!strcmp(c, "getxattr") && argc == 4) {
    char v[4096];
    ssize_t n = getxattr(argv[2], argv[3], v, sizeof v - 1);
    if (n < 0) return fail("getxattr");
    v[n] = 0;
    printf("%s\n", v);
    return 0;
  }
  if (!strcmp(c, "listxattr") && argc == 3) {
    char v[4096];
    ssize_t n = listxattr(argv[2], v, sizeof v);
    if (n < 0) return fail("listxattr");
    for (ssize_t i = 0; i < n; i += strlen(v + i) + 1) printf("%s%s", i ? "," : "", v + i);
    printf("\n");
    return 0;
  }
  if (!strcmp(c, "removexattr") && argc == 4) {
    if (removexattr(argv[2], argv[3]) != 0) return fail("removexattr");
    printf("ok\n");
    return 0;
  }
  fprintf(stderr, "usage: p9xt mmap|mmap-ro FILE | dino DIR | fsx FILE NOPS SEED | setxattr F N V | getxattr F N | "
                  "listxattr F | removexattr F N\n");
  return 2;
}
