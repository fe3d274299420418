#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Draws the benchmark matrix as SVG bar charts, from the results.json that the tables come from.

    bench/plot-matrix.py RESULTS.JSON [OUT_DIR]

Writes OUT_DIR/plot-sequential.svg (read and write), plot-metadata.svg (walks, getattr, create,
readdir, ls -l) and plot-connections.svg (many connections, idle memory); OUT_DIR defaults to the
directory of RESULTS.JSON. One row per cell of the matrix (benchmark, transport, msize, depth or
connections), one bar per server: its speed relative to the raw floor measured in the same run,
on a logarithmic axis where 1 is as fast as the raw socket and longer is better. For MB/s and
ops/s that is value ÷ floor (the tables' ratio); for ms, µs and KiB, where lower is better, it is
floor ÷ value (the inverse of the tables' ratio), so that every bar reads the same way. A cell
that a server could not run is marked "n/a" with its error on hover.
"""
import html
import json
import math
import pathlib
import sys

GROUPS = (
    ("sequential", "Sequential read and write", ("read", "write")),
    ("metadata", "Metadata and listings",
     ("walk_getattr_clunk_seq", "walk_getattr_clunk_pipe", "getattr", "create_unlink", "readdir", "ls_l")),
    # conns_busy_*: relative to the same server without the idle connections (not the echo floor).
    ("connections", "Many connections",
     ("conns_mix", "conns_p99", "conns_idle_kib", "conns_busy_mix", "conns_busy_p99", "conns_busy_idle_kib")),
)
COLOURS = ("#0969da", "#bc4c00", "#1a7f37", "#8250df", "#57606a")
PLOT_W, BAR_H, GAP, TOP = 460, 9, 8, 64
CHAR_W = 6.4  # an upper bound of an 11 px DejaVu Sans character's width, for the label column


def msize_text(m):
    return f"{m >> 20}M" if m >= 1 << 20 and m % (1 << 20) == 0 else f"{m >> 10}K"


def row_label(r):
    unit = r["unit"]
    where = f"{r['transport']} {msize_text(r['msize_requested'])}" if r["msize_requested"] else r["transport"]
    count = f"{r['conns']} conns" if r["bench"].startswith("conns") else f"depth {r['depth']}"
    return f"{r['label']} ({unit}), {where}, {count}"


def speed(r):
    """Relative to the floor, higher is better; None when the cell has no number."""
    if r.get("error") or not r.get("floor") or not r.get("value"):
        return None
    return r["value"] / r["floor"] if r["higher_is_better"] else r["floor"] / r["value"]


def chart(title, rows, servers, machine):
    label_w = round(max(len(label) for label, _ in rows) * CHAR_W) + 16
    speeds = [s for _, cells in rows for s in (speed(c) for c in cells.values() if c) if s]
    lo = 10 ** math.floor(math.log10(min(speeds + [0.5])))
    hi = 10 ** math.ceil(math.log10(max(speeds + [2.0])))
    decades = math.log10(hi) - math.log10(lo)

    def x(v):
        return label_w + PLOT_W * (math.log10(v) - math.log10(lo)) / decades

    row_h = BAR_H * len(servers) + GAP
    height = TOP + row_h * len(rows) + 40
    width = label_w + PLOT_W + 30
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="DejaVu Sans, Arial, sans-serif" font-size="11">',
           f'<title>{html.escape(title)}</title>',
           f'<rect width="{width}" height="{height}" fill="#fff"/>',
           f'<text x="8" y="18" font-size="14" font-weight="bold">{html.escape(title)}: speed relative to the raw '
           f'floor (log scale, 1 = raw socket, longer is better)</text>',
           f'<text x="8" y="34" fill="#57606a">{html.escape(machine)}</text>']
    for i, name in enumerate(servers):
        lx = label_w + 110 * i
        out.append(f'<rect x="{lx}" y="42" width="12" height="10" fill="{COLOURS[i % len(COLOURS)]}"/>'
                   f'<text x="{lx + 16}" y="51">{html.escape(name)}</text>')
    for n in range(0, len(rows), 2):  # banded rows, under the grid and the bars
        out.append(f'<rect x="0" y="{TOP + n * row_h - GAP / 2}" width="{width}" height="{row_h}" fill="#f6f8fa"/>')
    # Decade grid lines, and the floor (1×) in black.
    v = lo
    while v <= hi * 1.0001:
        gx = x(v)
        colour, w = ("#1f2328", 1.5) if abs(v - 1) < 1e-9 else ("#d0d7de", 1)
        out.append(f'<line x1="{gx:.1f}" y1="{TOP - 4}" x2="{gx:.1f}" y2="{height - 30}" stroke="{colour}" '
                   f'stroke-width="{w}"/>')
        out.append(f'<text x="{gx:.1f}" y="{height - 16}" text-anchor="middle">{v:g}×</text>')
        v *= 10
    for n, (label, cells) in enumerate(rows):
        y = TOP + n * row_h
        out.append(f'<text x="{label_w - 6}" y="{y + row_h / 2}" text-anchor="end" '
                   f'dominant-baseline="middle">{html.escape(label)}</text>')
        for i, name in enumerate(servers):
            c = cells.get(name)
            by = y + i * BAR_H
            s = speed(c) if c else None
            if s is None:
                why = (c or {}).get("error") or "not measured"
                out.append(f'<text x="{label_w + 4}" y="{by + BAR_H - 1}" font-size="9" fill="#57606a">n/a'
                           f'<title>{html.escape(name)}: {html.escape(why)}</title></text>')
                continue
            x0, x1 = x(lo), x(min(max(s, lo), hi))
            out.append(f'<rect x="{x0:.1f}" y="{by}" width="{max(x1 - x0, 1):.1f}" height="{BAR_H - 1}" '
                       f'fill="{COLOURS[i % len(COLOURS)]}"><title>{html.escape(name)}: {c["value"]:.4g} '
                       f'{html.escape(c["unit"])}, floor {c["floor"]:.4g}, {s:.2f}× the floor</title></rect>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 64
    path = pathlib.Path(argv[1])
    out_dir = pathlib.Path(argv[2]) if len(argv) > 2 else path.parent
    doc = json.loads(path.read_text(encoding="utf-8"))
    servers = [s["name"] if isinstance(s, dict) else s for s in doc.get("servers", [])]
    m = doc.get("machine", {})
    machine = (f"{m.get('date', '')}, {m.get('nproc', '?')} CPUs, {m.get('mode', 'full')} run, "
               f"load {m.get('loadavg_before', '?')}: {m.get('command', '')}")
    written = []
    for key, title, benches in GROUPS:
        rows = {}
        for r in doc.get("results", []):
            if r["bench"] not in benches:
                continue
            ident = (benches.index(r["bench"]), r["transport"], r["msize_requested"], r["depth"], r["conns"])
            rows.setdefault(ident, (row_label(r), {}))[1][r["server"]] = r
        if not rows:
            continue
        ordered = [rows[k] for k in sorted(rows)]
        target = out_dir / f"plot-{key}.svg"
        target.write_text(chart(title, ordered, servers, machine), encoding="utf-8")
        written.append(str(target))
    print("plot-matrix.py: wrote " + ", ".join(written))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
