#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Server RSS per idle connection: starts P9XD on a temporary export, opens N connections that
# negotiate (Tversion) and attach, then leave them idle; prints (RSS after - RSS before) / N.
#   bench/idle-memory.py build/server/p9xd 200
import socket, struct, sys, time, subprocess, os
def frame(t, tag, body): return struct.pack('<IBH', 7+len(body), t, tag)+body
def s9(x): x=x.encode(); return struct.pack('<H',len(x))+x
def rss(pid):
    for l in open(f'/proc/{pid}/status'):
        if l.startswith('VmRSS'): return int(l.split()[1])
p9xd, n = sys.argv[1], int(sys.argv[2])
os.makedirs('/tmp/idle-exp', exist_ok=True)
srv = subprocess.Popen([p9xd,'--export','/tmp/idle-exp','--listen','unix:/tmp/idle.sock','-q'])
time.sleep(0.5)
def conn():
    c=socket.socket(socket.AF_UNIX); c.connect('/tmp/idle.sock')
    c.sendall(frame(100,0xffff,struct.pack('<I',1<<20)+s9('9P2000.L'))); c.recv(100)
    c.sendall(frame(104,1,struct.pack('<II',1,0xffffffff)+s9('root')+s9('')+struct.pack('<I',0xffffffff))); c.recv(100)
    return c
warm=[conn() for _ in range(20)]
for c in warm: c.close()
time.sleep(0.5)
base=rss(srv.pid)
cs=[conn() for _ in range(n)]
time.sleep(1)
after=rss(srv.pid)
print(f"{n} idle connections: {(after-base)/n:.1f} KiB each (RSS {base} -> {after} KiB)")
srv.terminate(); srv.wait()
