#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A 9P server that dies in the middle of a run: a proxy in front of a real server that exits.

    dying_proxy.py LISTEN_SOCKET UPSTREAM_SOCKET TRIGGER_NAME

Listens on the unix socket LISTEN_SOCKET and relays every connection, frame by frame, to the
server on UPSTREAM_SOCKET. When a client sends Tmkdir of TRIGGER_NAME (p9x-conform's case N makes
its scratch directory "cN"), the proxy drops every connection, removes its socket and exits
without answering: to the client, the server died during that case and never came back.
"""
import os
import selectors
import socket
import struct
import sys

TMKDIR = 72


def main():
    listen_path, upstream_path, trigger = sys.argv[1], sys.argv[2], sys.argv[3].encode()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(listen_path)
    listener.listen(16)
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ, None)
    peers = {}  # socket -> (its peer, bytes from the client not yet relayed or None for upstream)
    buffers = {}

    def die():
        os.unlink(listen_path)
        os._exit(0)

    while True:
        for key, _ in sel.select():
            sock = key.fileobj
            if sock is listener:
                client, _ = listener.accept()
                upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                upstream.connect(upstream_path)
                peers[client], peers[upstream] = upstream, client
                buffers[client] = b""
                sel.register(client, selectors.EVENT_READ, "client")
                sel.register(upstream, selectors.EVENT_READ, "upstream")
                continue
            data = sock.recv(1 << 16)
            if not data:
                other = peers.pop(sock)
                peers.pop(other, None)
                buffers.pop(sock, None)
                buffers.pop(other, None)
                for s in (sock, other):
                    sel.unregister(s)
                    s.close()
                continue
            if key.data == "upstream":
                peers[sock].sendall(data)
                continue
            # From a client: relay whole frames, looking at each Tmkdir's name.
            buffers[sock] += data
            buf = buffers[sock]
            while len(buf) >= 4:
                size = struct.unpack_from("<I", buf)[0]
                if size < 7 or len(buf) < size:
                    break
                frame, buf = buf[:size], buf[size:]
                if frame[4] == TMKDIR and size >= 13:
                    name_len = struct.unpack_from("<H", frame, 11)[0]
                    if frame[13:13 + name_len] == trigger:
                        die()
                peers[sock].sendall(frame)
            if len(buf) >= 4 and struct.unpack_from("<I", buf)[0] < 7:
                peers[sock].sendall(buf)  # not 9P framing (a malformed-frame case): relay as is
                buf = b""
            buffers[sock] = buf


if __name__ == "__main__":
    main()
