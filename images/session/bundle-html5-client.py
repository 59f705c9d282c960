#!/usr/bin/env python3
"""Bundles xpra's HTML5 client at image build: one script for the page, one for its worker.

xpra 3.1's index.html loads 27 scripts (3.8 MB, some with their source maps inlined) and 5
stylesheets, and its protocol worker then imports 6 more scripts (1.6 MB) one by one: each a
separate request through the ingress (and its ForwardAuth check), each gzipped again by xpra's
Python web server on every request. This writes, under www/<dir>/, the page's scripts concatenated
in their page order and minified by esbuild (legal comments kept), its stylesheets likewise, the
protocol worker with its imports inlined (but one it never uses here), and the worker check that precedes it; each named by a
hash of its content (so the ingress may mark them immutable) and pre-compressed (.br, .gz: xpra
serves those as they are). index.html is rewritten to load the two bundles, and the page's
scripts to start the workers from theirs; xpra's page as shipped is kept as xpra-index.html.

usage: bundle-html5-client.py <www> <dir> <esbuild>
"""
import gzip
import hashlib
import os
import re
import shutil
import subprocess
import sys

import brotli

SCRIPT_TAG = re.compile(r'[ \t]*<script[^>]*\ssrc="([^"]+)"[^>]*>\s*</script>[ \t]*\n?')
STYLESHEET_TAG = re.compile(r'[ \t]*<link\s+rel="stylesheet"[^>]*\shref="([^"]+)"[^>]*>[ \t]*\n?')
# The protocol worker's imports (js/Protocol.js, relative to js/).
IMPORT_SCRIPTS = re.compile(r"importScripts\(([^)]*)\);")
# forge.js (AES, 0.9 MB, the largest import) is used by the worker only for xpra's own
# encryption layer, which no session has (no --encryption: TLS ends at the ingress); the page
# bundle keeps it.
WORKER_LEFT_OUT = "lib/forge.js"
# The workers the page starts, by the paths it names (relative to the page).
PROTOCOL_WORKER = "js/Protocol.js"
WORKER_CHECK = "js/lib/wsworker_check.js"


def read(www, path):
    with open(os.path.join(www, path), "rb") as f:
        return f.read()


def minify(esbuild, source, loader):
    # Transform mode with no output format: top-level names stay global, as the page expects.
    return subprocess.run(
        [esbuild, f"--loader={loader}", "--minify", "--charset=utf8", "--log-level=error"],
        input=source, capture_output=True, check=True).stdout


def join_scripts(parts):
    # A statement separator between files: each was a whole script of its own.
    return b"\n;\n".join(parts)


def write_compressed(path, content):
    """Writes content, and beside it the .br and .gz that xpra serves instead when it may."""
    with open(path, "wb") as f:
        f.write(content)
    with open(path + ".br", "wb") as f:
        f.write(brotli.compress(content, quality=11))
    with open(path + ".gz", "wb") as f:
        f.write(gzip.compress(content, compresslevel=9, mtime=0))


def emit(www, subdir, stem, ext, content):
    """Writes content under a name made from its hash."""
    name = f"{subdir}/{stem}-{hashlib.sha256(content).hexdigest()[:16]}.{ext}"
    write_compressed(os.path.join(www, name), content)
    return name


def changed(what):
    raise SystemExit(f"bundle-html5-client: {what}: xpra's HTML5 client changed, review this script")


def protocol_worker(www, esbuild):
    source = read(www, PROTOCOL_WORKER).decode("utf-8")
    found = IMPORT_SCRIPTS.search(source)
    if not found:
        changed(f"no importScripts(...) in {PROTOCOL_WORKER}")
    imports = re.findall(r"'([^']+)'", found.group(1))
    if WORKER_LEFT_OUT not in imports:
        changed(f"the protocol worker no longer imports {WORKER_LEFT_OUT}")
    imports.remove(WORKER_LEFT_OUT)
    inlined = [minify(esbuild, read(www, os.path.join("js", p)), "js") for p in imports]
    rest = IMPORT_SCRIPTS.sub("", source, count=1).encode("utf-8")
    return join_scripts(inlined + [minify(esbuild, rest, "js")])


def pointed_at_workers(source, workers):
    """The page's script with the workers it starts taken from their bundles."""
    for original, bundled in workers.items():
        for quote in (b"'", b'"'):
            source = source.replace(quote + original.encode() + quote, quote + bundled.encode() + quote)
    return source


def replace_all_with_one(tag, html, replacement):
    """The bundle takes the place of the first tag it replaces; the others go."""
    first = True

    def sub(_match):
        nonlocal first
        was_first, first = first, False
        return replacement if was_first else ""
    return tag.sub(sub, html)


def main():
    www, subdir, esbuild = sys.argv[1:4]
    os.makedirs(os.path.join(www, subdir), exist_ok=True)
    index = os.path.join(www, "index.html")
    with open(index, encoding="utf-8") as f:
        html = f.read()

    workers = {
        PROTOCOL_WORKER: emit(www, subdir, "protocol", "js", protocol_worker(www, esbuild)),
        WORKER_CHECK: emit(www, subdir, "wsworker-check", "js", minify(esbuild, read(www, WORKER_CHECK), "js")),
    }
    scripts = SCRIPT_TAG.findall(html)
    sheets = STYLESHEET_TAG.findall(html)
    if not scripts or not sheets:
        changed("no scripts or stylesheets found in index.html")
    page_sources = [pointed_at_workers(read(www, s), workers) for s in scripts]
    for original, bundled in workers.items():
        if sum(s.count(bundled.encode()) for s in page_sources) != 1:
            changed(f"the page does not start {original} exactly once")
    script = emit(www, subdir, "client", "js", join_scripts([minify(esbuild, s, "js") for s in page_sources]))
    sheet = emit(www, subdir, "client", "css", b"\n".join(minify(esbuild, read(www, s), "css") for s in sheets))

    # The workers' scripts are fetched while the page's runs (into the HTTP cache, where the
    # workers find them), not one after the other once it has.
    preloads = "".join(f'\t\t<link rel="preload" href="{w}" as="fetch" crossorigin="use-credentials">\n' for w in workers.values())
    html = replace_all_with_one(SCRIPT_TAG, html, f'{preloads}\t\t<script src="{script}"></script>\n')
    html = replace_all_with_one(STYLESHEET_TAG, html, f'\t\t<link rel="stylesheet" href="{sheet}">\n')
    # xpra's page as shipped stays beside it, the benchmark's baseline (bench/session-bench.ts).
    shutil.copyfile(index, os.path.join(www, "xpra-index.html"))
    write_compressed(index, html.encode("utf-8"))
    print(f"{script}: {len(scripts)} scripts; {sheet}: {len(sheets)} stylesheets; workers: {', '.join(workers.values())}")


if __name__ == "__main__":
    main()
