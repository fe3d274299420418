#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Renders the specification (spec/*.md and spec/evidence/*.md) to HTML with pandoc.

usage: render.py [--check] SOURCE_DIR OUT_DIR

The pages mirror the repository layout under OUT_DIR (spec/xqid.md -> OUT_DIR/spec/xqid.html),
so relative links keep working: a link to a .md file becomes a link to its .html page, and every
other local file a page links to (another README, a script, messages.json) is rendered or copied
alongside, one level deep. With --check, every href to a local file must name a file of OUT_DIR
and every #fragment must be an id of the target page; the broken ones are listed and the exit
status is 1.
"""
import html.parser
import os
import shutil
import subprocess
import sys
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))


def spec_pages(source):
    pages = []
    for sub in ("spec", "spec/evidence"):
        d = os.path.join(source, sub)
        if os.path.isdir(d):
            pages += sorted(os.path.join(sub, f) for f in os.listdir(d) if f.endswith(".md"))
    return pages


class Links(html.parser.HTMLParser):
    """The hrefs and the ids of one HTML page."""

    def __init__(self):
        super().__init__()
        self.hrefs, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name == "id" and value:
                self.ids.add(value)
            if name == "href" and tag == "a" and value:
                self.hrefs.append(value)


def parse(path):
    p = Links()
    with open(path, encoding="utf-8") as f:
        p.feed(f.read())
    return p


def local_target(href):
    """(path, fragment) of a local link, or None for an external one."""
    u = urllib.parse.urlsplit(href)
    if u.scheme or u.netloc:
        return None
    return urllib.parse.unquote(u.path), u.fragment


def render(source, out, rel):
    src = os.path.join(source, rel)
    dst = os.path.join(out, rel[:-3] + ".html")
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    css_rel = os.path.relpath(os.path.join(out, "spec.css"), os.path.dirname(dst))
    subprocess.run(
        ["pandoc", "--from=gfm", "--to=html5", "--standalone", "--toc", "--toc-depth=2",
         "--lua-filter=" + os.path.join(HERE, "md-links.lua"), "--css=" + css_rel,
         "--metadata=pagetitle:" + title(src), "--output=" + dst, src],
        check=True)
    move_toc_below_title(dst)
    return dst


def move_toc_below_title(page):
    """pandoc puts the table of contents before the body; the page reads better with the title
    (the document's first h1) above it."""
    with open(page, encoding="utf-8") as f:
        text = f.read()
    start, end, title_end = text.find('<nav id="TOC"'), text.find("</nav>"), text.find("</h1>")
    if start < 0 or end < 0 or title_end < end:
        return
    end += len("</nav>")
    toc = text[start:end]
    text = text[:start] + text[end:]
    title_end = text.find("</h1>") + len("</h1>")
    text = text[:title_end] + "\n" + toc + text[title_end:]
    with open(page, "w", encoding="utf-8") as f:
        f.write(text)


def title(path):
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("# "):
                return line[2:].strip()
    return os.path.basename(path)


def build(source, out):
    os.makedirs(out, exist_ok=True)
    shutil.copy(os.path.join(HERE, "spec.css"), os.path.join(out, "spec.css"))
    queue = [(p, 0) for p in spec_pages(source)]
    seen = set()
    while queue:
        rel, depth = queue.pop(0)
        if rel in seen:
            continue
        seen.add(rel)
        src = os.path.join(source, rel)
        if not rel.endswith(".md"):
            if os.path.isfile(src):
                os.makedirs(os.path.dirname(os.path.join(out, rel)), exist_ok=True)
                shutil.copy(src, os.path.join(out, rel))
            elif os.path.isdir(src):
                os.makedirs(os.path.join(out, rel), exist_ok=True)
            continue
        if not os.path.isfile(src):
            continue  # the checker reports the broken link
        page = render(source, out, rel)
        if depth >= 1:
            continue
        for href in parse(page).hrefs:
            t = local_target(href)
            if t is None or not t[0]:
                continue
            target = os.path.normpath(os.path.join(os.path.dirname(rel), t[0]))
            if target.startswith(".."):
                continue
            if target.endswith(".html") and os.path.isfile(os.path.join(source, target[:-5] + ".md")):
                target = target[:-5] + ".md"
            queue.append((target, depth + 1))


def check(out):
    pages = {}
    for root, _, files in os.walk(out):
        for f in files:
            if f.endswith(".html"):
                pages[os.path.normpath(os.path.join(root, f))] = parse(os.path.join(root, f))
    broken = []
    for page, links in sorted(pages.items()):
        for href in links.hrefs:
            t = local_target(href)
            if t is None:
                continue
            path, fragment = t
            target = os.path.normpath(os.path.join(os.path.dirname(page), path)) if path else page
            where = os.path.relpath(page, out)
            if not os.path.exists(target):
                broken.append(f"{where}: {href}: no such file")
            elif fragment and target.endswith(".html") and fragment not in pages[target].ids:
                broken.append(f"{where}: {href}: no id '{fragment}' in {os.path.relpath(target, out)}")
    for b in broken:
        print("broken link: " + b)
    print(f"{len(pages)} pages, {sum(len(p.hrefs) for p in pages.values())} links, {len(broken)} broken")
    return 1 if broken else 0


def main(argv):
    do_check = "--check" in argv
    args = [a for a in argv if a != "--check"]
    if len(args) != 2:
        sys.exit(__doc__)
    source, out = (os.path.abspath(a) for a in args)
    if os.path.isdir(out):
        shutil.rmtree(out)
    build(source, out)
    print("rendered to " + out)
    return check(out) if do_check else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
