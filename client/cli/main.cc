// SPDX-License-Identifier: MIT
// p9x: the command-line 9P2000.L client. A thin layer over the client library (GUIDE R8): every
// command is a few library calls plus printing. This file holds the command table, the help and
// the option parser; the commands live beside it in client/cli/, one file per family. Run `p9x --help` or `p9x COMMAND
// --help`.
//
// Exit status: 0 success; 1 the server (or the local file system) refused an operation, and
// the message names the errno and the path; 2 usage error; 3 could not connect or negotiate,
// or the connection failed (transport, protocol violation, timeout).
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "client/cli/cli.h"

namespace p9x::client::cli {
namespace {

const Command kCommands[] = {
    {"version", "version", "connect and show the dialect and msize agreed, and the offers refused",
     "Runs the version ladder against --target and prints what was agreed: the version string, the\n"
     "dialect (legacy 13-byte qids or xqid 21-byte qids), the msize (the server may lower the offer),\n"
     "how many connections it took (servers that hang up on an unknown version force a reconnect)\n"
     "and one line per offer with the server's answer. --dialect auto (default) offers 9P2000.L.xqid\n"
     "and falls back to 9P2000.L; xqid fails unless the server accepts xqid; legacy offers 9P2000.L.",
     false, RunVersion},
    {"ls", "ls [-l] [PATH...]", "list a directory (or show a file)",
     "Lists the entries of each directory PATH (default: the attach root), sorted by name, without\n"
     "'.' and '..'; directories end in '/'. -l adds mode, links, uid, gid, size, mtime (UTC) and\n"
     "symlink targets (one Twalk+Tgetattr per entry). --json gives each entry's qid and d_type.",
     true, RunLs},
    {"stat", "stat PATH...", "show a file's attributes and qid (Tgetattr, all fields)",
     "Walks to each PATH and prints every Rgetattr field: the qid (path_hi:path in xqid sessions),\n"
     "mode, owner, size, times (UTC) and the valid mask. Reports when the walk's qid and Rgetattr's\n"
     "qid differ.",
     true, RunStat},
    {"cat", "cat PATH...", "print files to standard output",
     "Reads each file whole (Treads split to the iounit or msize, several in flight) and writes it\n"
     "to standard output.",
     true, RunCat},
    {"get", "get REMOTE LOCAL", "copy a remote file to a local file ('-': standard output)",
     "Reads REMOTE whole and writes it to LOCAL, replacing LOCAL.", true, RunGet},
    {"put", "put LOCAL REMOTE", "copy a local file ('-': standard input) to a remote path",
     "Creates or truncates REMOTE (Tlcreate with O_WRONLY|O_CREAT|O_TRUNC, the local file's mode\n"
     "or 0644) and writes LOCAL's bytes to it, split to the iounit or msize.",
     true, RunPut},
    {"mkdir", "mkdir [-p] PATH...", "create directories (mode 0755)",
     "Creates each directory with Tmkdir. -p creates missing parents and accepts existing ones.", true, RunMkdir},
    {"rm", "rm [-r] PATH...", "remove files, or directories with -r",
     "Removes each PATH with Tunlinkat (servers without it, such as diod, get Twalk+Tremove). A\n"
     "directory needs -r, which removes everything below it first.",
     true, RunRm},
    {"mv", "mv SOURCE DEST", "rename or move (Trenameat, or Trename)",
     "Renames SOURCE to DEST. If DEST is an existing directory, SOURCE moves into it.", true, RunMv},
    {"ln", "ln [-s] TARGET LINK", "make a hard link (Tlink) or a symbolic link (-s, Tsymlink)",
     "Without -s, LINK becomes another name of the remote file TARGET. With -s, LINK is a symlink\n"
     "whose content is the string TARGET.",
     true, RunLn},
    {"tree", "tree [PATH]", "every path below PATH with its qid",
     "Walks the whole tree below PATH (default: the root) and prints each path with the qid its\n"
     "Twalk returned (the server's identity for the file), noting directory entries whose qid\n"
     "differs. Two paths with the same qid are the same file as far as a client can tell.",
     true, RunTree},
    {"xattr", "xattr list PATH | xattr get|remove PATH NAME | xattr set [--create|--replace] PATH NAME VALUE",
     "list, read, set or remove a file's extended attributes (Txattrwalk, Txattrcreate)",
     "list prints the names of PATH's extended attributes, one per line. get writes the value of\n"
     "NAME to standard output as it is (--json: size, hex, and text when printable). set gives NAME\n"
     "the value VALUE ('-' reads it from standard input); --create fails if NAME exists (EEXIST),\n"
     "--replace if it does not (ENODATA). remove deletes NAME. Names carry their namespace, as on\n"
     "Linux: user.comment, trusted.x (the server decides which namespaces it allows).",
     true, RunXattr},
    {"decode", "decode HEX... | decode --file FILE | decode CAPTURE [--port N]",
     "print frames given as hex, or every 9P frame in a packet capture (no server needed)",
     "Decodes one or more concatenated 9P frames from hex digits (whitespace, ':' and 0x ignored;\n"
     "--file FILE reads the hex from FILE, '-' for standard input) and prints each in the codec's\n"
     "text form. --dialect xqid decodes 21-byte qids; auto (default) uses 13-byte qids unless the\n"
     "frame only decodes with 21-byte ones.\n"
     "\n"
     "A CAPTURE is a pcap or pcapng file (dumpcap, tshark, tcpdump; recognised by its magic number,\n"
     "also through --file). Every TCP connection with an end on port 564 or 5640, or whose client\n"
     "starts with a Tversion, is reassembled (retransmissions, reordering, a capture that starts\n"
     "mid-stream) and split into frames; --port N reads only port N. One line per frame: capture\n"
     "time (UTC), [conversation] client -> server, direction (c->s, s->c) and the text form;\n"
     "--json gives an array of objects with packet, time, conversation, client, server, direction,\n"
     "dialect, msize, size, text (and error). Each conversation is decoded in the dialect its\n"
     "Tversion/Rversion agreed (9P2000.L until then; guessed from the qid size when the exchange\n"
     "was not captured) unless --dialect xqid or legacy is given. Notes about skipped or lost\n"
     "bytes go to standard error.\n"
     "\n"
     "Exit status 1 if a frame does not decode (each one is named) or the capture is damaged.",
     false, RunDecode},
    {"describe", "describe [MESSAGE]", "a message's spec entry and byte layout (no server needed)",
     "Prints the message table's entry for MESSAGE (Twalk, Rwalk, walk for both, or a type number):\n"
     "reference, meaning, fields, and the byte layout and size in 9P2000.L and in 9P2000.L.xqid.\n"
     "Without MESSAGE, lists every message.",
     false, RunDescribe},
};

const Command* FindCommand(const std::string& name) {
  for (const auto& c : kCommands) {
    if (name == c.name) return &c;
  }
  return nullptr;
}

void PrintMainHelp() {
  std::printf(
      "p9x: a 9P2000.L client that speaks both dialects (9P2000.L and 9P2000.L.xqid)\n"
      "\n"
      "usage: p9x [OPTIONS] COMMAND [ARGS...]\n"
      "       p9x COMMAND --help\n"
      "\n"
      "options:\n"
      "  --target T        server: tcp:HOST:PORT, tcp:[::1]:PORT, unix:PATH or exec:COMMAND\n"
      "                    (exec: runs COMMAND with the 9P stream on its stdin/stdout)\n"
      "                    default: $P9X_TARGET\n"
      "  --dialect D       auto (offer xqid, fall back to 9P2000.L; default), xqid, legacy\n"
      "  --msize N         largest message to offer (default %u; the server may lower it)\n"
      "  --aname A         the tree to attach (default \"\"; diod and nfs-ganesha want the export path)\n"
      "  --uname U         user name to attach as (default: your login name)\n"
      "  --n-uname N       numeric uid to attach as (default: your uid)\n"
      "  --timeout S       seconds to wait for each reply before flushing it (default 30)\n"
      "  --json            print results as JSON (every command that prints data)\n"
      "  -h, --help        this help\n"
      "\n"
      "commands:\n",
      kDefaultMsize);
  for (const auto& c : kCommands) std::printf("  %-10s %s\n", c.name, c.summary);
  std::printf(
      "\n"
      "Paths are relative to the attach root; '/' separates names.\n"
      "Exit status: 0 ok; 1 the server refused (the message gives the errno name and the path);\n"
      "2 usage error; 3 could not connect or negotiate, or the connection failed.\n"
      "\n"
      "examples:\n"
      "  p9x --target tcp:127.0.0.1:5640 version\n"
      "  p9x --target unix:/run/p9xd.sock --aname /srv/export ls -l\n"
      "  p9x --target 'exec:p9xd --stdio --export /srv/export' tree\n"
      "  p9x decode 1500000064ffff0020000008003950323030302e4c\n"
      "  p9x decode capture.pcapng --port 5640\n"
      "  p9x describe walk\n");
}

void PrintCommandHelp(const Command& c) {
  std::printf("usage: p9x [OPTIONS] %s\n\n%s\n\n%s\n", c.usage, c.summary, c.help);
  if (c.connects) std::printf("\nNeeds --target (or $P9X_TARGET); see `p9x --help` for the options.\n");
}

int Main(int argc, char** argv) {
  Context ctx;
  if (const char* t = std::getenv("P9X_TARGET")) ctx.g.target = t;
  ctx.g.n_uname = static_cast<uint32_t>(getuid());
  if (const passwd* pw = getpwuid(getuid())) ctx.g.uname = pw->pw_name;
  if (ctx.g.uname.empty()) ctx.g.uname = "root";

  std::vector<std::string> args(argv + 1, argv + argc);
  size_t i = 0;
  auto usage = [](const std::string& m) {
    std::fprintf(stderr, "p9x: %s\nRun `p9x --help` for usage.\n", m.c_str());
    return kExitUsage;
  };
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.empty() || a[0] != '-') break;
    if (a == "-h" || a == "--help") {
      PrintMainHelp();
      return kExitOk;
    }
    if (a == "--json") {
      ctx.g.json = true;
      continue;
    }
    std::string name = a, value;
    const size_t eq = a.find('=');
    if (eq != std::string::npos) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
    } else {
      if (i + 1 >= args.size()) return usage("option " + a + " needs a value");
      value = args[++i];
    }
    uint64_t n = 0;
    if (name == "--target") {
      ctx.g.target = value;
    } else if (name == "--dialect") {
      ctx.g.dialect_given = value != "auto";
      if (value == "auto") {
        ctx.g.dialect = negotiation::DialectChoice::kAuto;
      } else if (value == "xqid") {
        ctx.g.dialect = negotiation::DialectChoice::kXqidOnly;
      } else if (value == "legacy") {
        ctx.g.dialect = negotiation::DialectChoice::kLegacyOnly;
      } else {
        return usage("--dialect must be auto, xqid or legacy, not \"" + value + "\"");
      }
    } else if (name == "--msize") {
      if (!ParseUint(value, kMaxMsize, &n) || n < kMinMsize) {
        return usage("--msize must be a number from " + std::to_string(kMinMsize) + " to " + std::to_string(kMaxMsize));
      }
      ctx.g.msize = static_cast<uint32_t>(n);
    } else if (name == "--aname") {
      ctx.g.aname = value;
    } else if (name == "--uname") {
      ctx.g.uname = value;
    } else if (name == "--n-uname") {
      if (!ParseUint(value, 0xFFFFFFFFu, &n)) return usage("--n-uname must be a number");
      ctx.g.n_uname = static_cast<uint32_t>(n);
    } else if (name == "--timeout") {
      if (!ParseUint(value, 86400, &n) || n == 0) return usage("--timeout must be 1 to 86400 seconds");
      ctx.g.timeout_s = static_cast<int>(n);
    } else {
      return usage("unknown option " + a);
    }
  }
  if (i >= args.size()) {
    PrintMainHelp();
    return kExitUsage;
  }
  std::string command_name = args[i++];
  if (command_name == "help") {
    if (i < args.size()) {
      if (const Command* c = FindCommand(args[i])) {
        PrintCommandHelp(*c);
        return kExitOk;
      }
      return usage("no command named \"" + args[i] + "\"");
    }
    PrintMainHelp();
    return kExitOk;
  }
  const Command* command = FindCommand(command_name);
  if (!command) return usage("no command named \"" + command_name + "\"");
  std::vector<std::string> rest(args.begin() + static_cast<ptrdiff_t>(i), args.end());
  for (const auto& a : rest) {
    if (a == "--help" || a == "-h") {
      PrintCommandHelp(*command);
      return kExitOk;
    }
  }
  // Options may also follow the command (p9x ls --json).
  std::vector<std::string> command_args;
  for (const auto& a : rest) {
    if (a == "--json") {
      ctx.g.json = true;
    } else {
      command_args.push_back(a);
    }
  }

  Outcome outcome;
  if (command->connects || command->run == RunVersion) {
    if (ctx.g.target.empty()) return usage(std::string(command->name) + " needs --target (or $P9X_TARGET)");
  }
  if (command->connects) {
    outcome = Connect(ctx);
    if (!outcome) outcome = Attach(ctx);
  }
  if (!outcome) outcome = command->run(ctx, command_args);
  if (ctx.g.json && ctx.out_is_object) std::printf("%s\n", ctx.out.dump(2).c_str());
  std::fflush(stdout);
  if (outcome) {
    if (!outcome->message.empty()) std::fprintf(stderr, "p9x: %s\n", outcome->message.c_str());
    return outcome->status;
  }
  return kExitOk;
}

}  // namespace
}  // namespace p9x::client::cli

int main(int argc, char** argv) { return p9x::client::cli::Main(argc, argv); }
