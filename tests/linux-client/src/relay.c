// SPDX-License-Identifier: MIT
/* relay HOST PORT — the QEMU guestfwd command: copies stdin -> TCP HOST:PORT -> stdout.
 *
 * libslirp runs this once per guest connection, with stdin/stdout joined to the guest's TCP
 * stream. The host-side socket gets TCP_NODELAY: without it Nagle + delayed ACK stall every
 * small 9P request by ~40 ms. Exits when both directions are closed. Only numeric IPv4/IPv6.
 *
 * The guest side needs the same care: libslirp joins stdin/stdout to QEMU with a loopback TCP
 * socket pair (slirp_socketpair_with_oob), and QEMU's end has Nagle on. A 9P request larger than
 * one guest segment (any 4 KiB Twrite) reaches QEMU in pieces; QEMU holds the tail until our
 * kernel ACKs the head, which delayed ACK postpones by 40 ms. So on fd 0 we set TCP_QUICKACK
 * after every read (it does not stick), and TCP_NODELAY on fd 1 for the replies.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int one = 1;

static int connect_to(const char *host, int port) {
  struct sockaddr_storage ss;
  socklen_t len;
  memset(&ss, 0, sizeof ss);
  struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
  if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons(port);
    len = sizeof *a4;
  } else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(port);
    len = sizeof *a6;
  } else {
    fprintf(stderr, "relay: %s is not a numeric address\n", host);
    return -1;
  }
  int s = socket(ss.ss_family, SOCK_STREAM, 0);
  if (s < 0) return -1;
  if (setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) {
    perror("relay: TCP_NODELAY");
    return -1;
  }
  if (connect(s, (struct sockaddr *)&ss, len) != 0) {
    fprintf(stderr, "relay: connect %s:%d: %s\n", host, port, strerror(errno));
    close(s);
    return -1;
  }
  return s;
}

/* Copy what is readable on from to to; returns 0 on EOF, -1 on error, else bytes. */
static ssize_t pump(int from, int to) {
  char buf[65536 + 4096];
  ssize_t n = read(from, buf, sizeof buf);
  if (from == 0) setsockopt(0, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one); /* ENOTSOCK is fine */
  if (n <= 0) return n < 0 && (errno == EINTR || errno == EAGAIN) ? 1 : n;
  for (ssize_t off = 0; off < n;) {
    ssize_t w = write(to, buf + off, n - off);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    off += w;
  }
  return n;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: relay HOST PORT\n");
    return 64;
  }
  int s = connect_to(argv[1], atoi(argv[2]));
  if (s < 0) return 1;
  /* Only effective when stdin/stdout are TCP sockets (libslirp); harmless otherwise. */
  setsockopt(1, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(0, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
  int in_open = 1, out_open = 1;
  while (in_open || out_open) {
    struct pollfd p[2] = {{in_open ? 0 : -1, POLLIN, 0}, {out_open ? s : -1, POLLIN, 0}};
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    if (in_open && (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t n = pump(0, s);
      if (n <= 0) {
        in_open = 0;
        shutdown(s, SHUT_WR);
      }
    }
    if (out_open && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t n = pump(s, 1);
      if (n <= 0) {
        out_open = 0;
        shutdown(1, SHUT_WR);
        if (n < 0 || !in_open) break;
        /* Server closed: nothing more can reach the guest; stop. */
        break;
      }
    }
  }
  return 0;
}
