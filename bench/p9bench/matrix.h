// SPDX-License-Identifier: MIT
// The side-by-side matrix: every workload against every server, over TCP loopback and
// a unix socket, each figure beside the raw floor measured in the same run with the same
// message sizes. Writes results.json and results.md into the output directory.
#pragma once

#include <string>
#include <vector>

namespace p9bench {

// How to start one server. Templates are split on spaces (no shell) and expanded with
// {port} {path} {dir} {fd}:
//   tcp:   listens on 127.0.0.1:{port}, e.g. "diod -f -n -N -l 127.0.0.1:{port} -e {dir}".
//   unix:  with {path}: listens on that unix socket; with {fd}: serves one already connected
//          AF_UNIX socket (a process per connection, like diod -r/-w or a stdio mode).
//          Empty: no unix transport (reported as such).
//   aname: the attach name, e.g. "{dir}" for diod.
//   uid:   the user every session attaches as (n_uname; default 0, root). A non-root uid makes
//          a server that switches credentials per user (p9xd as root) do so on every request.
struct ServerSpec {
  std::string name;
  std::string tcp_command;
  std::string unix_command;
  std::string aname = "{dir}";
  uint32_t uid = 0;
};

// "NAME|tcp=TEMPLATE|unix=TEMPLATE|aname=TEMPLATE|uid=N" (fields after NAME optional, any order).
bool ParseServerSpec(const std::string& text, ServerSpec* spec, std::string* error);

struct MatrixOptions {
  bool quick = false;
  std::vector<ServerSpec> servers;
  std::string out_dir;
  std::string work_dir;      // scratch (tmpfs): the export tree, sockets, server logs
  std::vector<std::string> gbench_json;  // Google Benchmark JSON files to include verbatim
  std::vector<std::string> only;         // run only benches whose name starts with one of these
  bool pin = false;          // client on CPU 0, servers on CPU 1
  // The busy-beside-idle cells (conns_busy): how many connections run the mix, and how many idle
  // ones are opened beside them (0: 1,000 and 10,000; quick: 20 and 200).
  uint32_t busy_conns = 0;
  uint32_t idle_conns = 0;
  std::string self_exe;      // this binary, for the floor server
  std::string command_line;  // recorded in the report
};

// Runs the matrix; returns 0 when every cell ran (failed cells are still reported).
int RunMatrix(const MatrixOptions& options);

}  // namespace p9bench
