#!/usr/bin/env python3
"""Bundles xpra's HTML5 client at image build: one script for the page, one for its worker.

xpra 3.1's index.html loads 27 scripts (3.8 MB, some with their source maps inlined) and 5
stylesheets, and its protocol worker then imports 6 more scripts (1.6 MB) one by one: each a
separate request through the ingress (and its ForwardAuth check), each gzipped again by xpra's
Python web server on every request. This writes, under www/<dir>/, the page's scripts concatenated
in their page order and minified by esbuild (legal comments kept), its stylesheets likewise, the
protocol worker with its imports inlined (but for forge.js, which neither uses here; the page
also goes without the audio decoders and the bug report's zip library, see below), and the
images and font the page and its stylesheets name; each named by a hash of its content (so the
ingress may mark them immutable), scripts and stylesheets pre-compressed (.br, .gz: xpra serves
those as they are).
index.html is rewritten to load the bundles, and the page's scripts to start the worker from its
bundle, at once (without the check worker xpra starts first) and to name the bundle's images;
xpra's page as shipped is kept as xpra-index.html.

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
# forge.js (AES and HMAC, 0.9 MB) is left out of both bundles. The worker uses it only for xpra's
# own encryption layer, which no session has (no --encryption: TLS ends at the ingress). The page
# uses it only to answer a password challenge (hmac digests), which xpra's websocket port, behind
# the ingress's token check, never makes; its hello probes for it (`typeof forge`).
LEFT_OUT = "lib/forge.js"  # relative to js/, as the worker imports it
# The page's bundle also leaves out the Aurora.js audio decoders (0.7 MB): no session has audio
# (xpra runs with --speaker=disabled). The client asks them for codecs once, through an unguarded
# `AV`, which the bundle guards (PAGE_PATCHES); it finds none and offers the codecs the browser has.
AURORA_SCRIPTS = ("js/lib/aurora/aurora.js", "js/lib/aurora/mp3.js", "js/lib/aurora/flac.js",
                  "js/lib/aurora/aac.js", "js/lib/aurora/aurora-xpra.js")
# And jszip.js with FileSaver.js (0.4 MB): only the menu's "Bug Report" uses them (a zip of the
# client's state and a screenshot, saved as a file), an xpra developer's tool, which the page
# leaves out too.
BUG_REPORT_SCRIPTS = ("js/lib/jszip.js", "js/lib/FileSaver.js")
BUG_REPORT_MENU_ITEM = re.compile(r'[ \t]*<li><a [^>]*onclick="show_bugreport\(event\);[^>]*>Bug Report</a></li>[ \t]*\n')
# Every script the page's bundle leaves out (as index.html names them).
PAGE_LEFT_OUT = (os.path.join("js", LEFT_OUT),) + AURORA_SCRIPTS + BUG_REPORT_SCRIPTS
# The worker the page starts, by the path it names (relative to the page).
PROTOCOL_WORKER = "js/Protocol.js"
# Before it, the client starts a worker only to ask whether WebSocket exists in workers, and
# connects when it answers: a worker's start and a round trip before the websocket opens, on every
# visit. Every browser that runs the client at all has WebSocket in workers, so the bundle connects
# at once.
CLIENT_SCRIPT = "js/Client.js"
# What the bundle changes in the page's scripts, each exactly once: script → (what, as, why).
PAGE_PATCHES = {
    CLIENT_SCRIPT: (
        re.compile(r"var worker = new Worker\('js/lib/wsworker_check\.js'\);.*?worker\.postMessage\(\{'cmd': 'check'\}\);", re.DOTALL),
        "me._do_connect(true);",
        "starts the websocket check worker"),
    # The probe for the Aurora.js decoders the page goes without (above).
    "js/MediaSourceUtil.js": (
        re.compile(re.escape("if(AV && AV.Decoder && AV.Decoder.find)")),
        "if(typeof AV!=='undefined' && AV.Decoder && AV.Decoder.find)",
        "probes for Aurora.js"),
}
# Images the page's scripts and index.html name (each window's buttons, the page's icon): served
# from the bundle too, so that a visit finds them cached instead of asking the ingress each time.
PAGE_IMAGES = ("favicon.png", "icons/close.png", "icons/maximize.png", "icons/minimize.png")
CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")?#]+)['\"]?\s*\)")
# xpra's page has no viewport: a phone lays it out 980 px wide and shows it zoomed out, so the
# client sizes the remote screen for that and every window comes out tiny. At the device's width
# the client fits the app to the phone's screen; zooming stays off, as a swipe on a window is the
# app's scroll (the client's touch handling).
CHARSET_META = '<meta charset="utf-8">'
VIEWPORT_META = '<meta name="viewport" content="width=device-width, initial-scale=1, maximum-scale=1, user-scalable=no">'
# On a screen narrower than this, the page is laid out this wide and shown scaled to the screen:
# Firefox's window is at least 500 px wide (its toolbars), and xpra 3.1's HTML5 client, laid out
# narrower than about 650 px, stops painting a window after its first updates although the server
# has them (seen at 500 and 600 px in Chromium, not at 700; test/e2e/mobile-client.test.ts).
# Runs first in the page's bundle, before the client measures the page.
NARROW_SCREEN_WIDTH = 720
NARROW_VIEWPORT = (
    "(function(){var m=document.querySelector('meta[name=viewport]');"
    f"if(m&&screen.width<{NARROW_SCREEN_WIDTH})m.setAttribute('content','width={NARROW_SCREEN_WIDTH}, user-scalable=no');}})();\n"
).encode()


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
    """Writes content under a name made from its hash (scripts and stylesheets pre-compressed;
    images and fonts are compressed already)."""
    name = f"{subdir}/{stem}-{hashlib.sha256(content).hexdigest()[:16]}.{ext}"
    if ext in ("js", "css"):
        write_compressed(os.path.join(www, name), content)
    else:
        with open(os.path.join(www, name), "wb") as f:
            f.write(content)
    return name


def emit_file(www, subdir, path):
    """A file of xpra's www/ copied into the bundle, named by its own name and hash."""
    stem, ext = os.path.splitext(os.path.basename(path))
    return emit(www, subdir, stem, ext[1:], read(www, path))


def changed(what):
    raise SystemExit(f"bundle-html5-client: {what}: xpra's HTML5 client changed, review this script")


def protocol_worker(www, esbuild):
    source = read(www, PROTOCOL_WORKER).decode("utf-8")
    found = IMPORT_SCRIPTS.search(source)
    if not found:
        changed(f"no importScripts(...) in {PROTOCOL_WORKER}")
    imports = re.findall(r"'([^']+)'", found.group(1))
    if LEFT_OUT not in imports:
        changed(f"the protocol worker no longer imports {LEFT_OUT}")
    imports.remove(LEFT_OUT)
    inlined = [minify(esbuild, read(www, os.path.join("js", p)), "js") for p in imports]
    rest = IMPORT_SCRIPTS.sub("", source, count=1).encode("utf-8")
    return join_scripts(inlined + [minify(esbuild, rest, "js")])


def patched(path, source):
    """One of the page's scripts as the bundle has it (PAGE_PATCHES)."""
    if path not in PAGE_PATCHES:
        return source
    pattern, replacement, what = PAGE_PATCHES[path]
    result, found = pattern.subn(lambda _m: replacement, source.decode("utf-8"))
    if found != 1:
        changed(f"{path} no longer {what} exactly once")
    return result.encode("utf-8")


def pointed_at_bundle(source, bundled):
    """The page's script (or page) with what it names, as a path relative to the page or from the
    root, taken from the bundle instead."""
    for original, name in bundled.items():
        for quote in (b"'", b'"'):
            for prefix in (b"", b"./", b"/"):
                was = quote + prefix + original.encode() + quote
                source = source.replace(was, quote + (b"/" if prefix == b"/" else b"") + name.encode() + quote)
    return source


def stylesheet_with_bundled_files(www, subdir, path):
    """A stylesheet whose url()s name copies in the bundle (beside the bundled stylesheet), or
    none at all where xpra's page names a file it does not ship (a request answered 404 on every
    visit)."""
    def sub(match):
        target = os.path.normpath(os.path.join(os.path.dirname(path), match.group(1)))
        if not os.path.isfile(os.path.join(www, target)):
            return "none"
        return f"url({os.path.basename(emit_file(www, subdir, target))})"
    return CSS_URL.sub(sub, read(www, path).decode("utf-8")).encode("utf-8")


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

    workers = {PROTOCOL_WORKER: emit(www, subdir, "protocol", "js", protocol_worker(www, esbuild))}
    scripts = SCRIPT_TAG.findall(html)
    sheets = STYLESHEET_TAG.findall(html)
    if not scripts or not sheets or CLIENT_SCRIPT not in scripts:
        changed(f"no scripts, no stylesheets or no {CLIENT_SCRIPT} found in index.html")
    sources = {s: read(www, s) for s in scripts}
    if b"typeof forge!=='undefined'" not in sources[CLIENT_SCRIPT]:
        changed(f"{CLIENT_SCRIPT} no longer probes for forge.js")
    for left_out in PAGE_LEFT_OUT:
        if left_out not in scripts:
            changed(f"index.html no longer loads {left_out}")
        scripts.remove(left_out)
    html, found = BUG_REPORT_MENU_ITEM.subn("", html)
    if found != 1 or "JSZip" in html.replace("new JSZip()", "", 1):
        changed("the menu has no one Bug Report item, or the page uses JSZip for more than the bug report")
    page_sources = [NARROW_VIEWPORT] + [patched(s, sources[s]) for s in scripts]
    images = {i: emit_file(www, subdir, i) for i in PAGE_IMAGES}
    page_sources = [pointed_at_bundle(s, {**workers, **images}) for s in page_sources]
    html = pointed_at_bundle(html.encode("utf-8"), images).decode("utf-8")
    for original, bundled in workers.items():
        if sum(s.count(bundled.encode()) for s in page_sources) != 1:
            changed(f"the page does not start {original} exactly once")
    for original, bundled in images.items():
        if not any(bundled.encode() in s for s in page_sources) and bundled not in html:
            changed(f"neither the page nor its scripts name {original}")
    script = emit(www, subdir, "client", "js", join_scripts([minify(esbuild, s, "js") for s in page_sources]))
    sheet = emit(www, subdir, "client", "css", b"\n".join(minify(esbuild, stylesheet_with_bundled_files(www, subdir, s), "css") for s in sheets))

    # The worker's script is fetched while the page's runs (into the HTTP cache, where the worker
    # finds it), not after it has.
    preloads = "".join(f'\t\t<link rel="preload" href="{w}" as="fetch" crossorigin="use-credentials">\n' for w in workers.values())
    html = replace_all_with_one(SCRIPT_TAG, html, f'{preloads}\t\t<script src="{script}"></script>\n')
    html = replace_all_with_one(STYLESHEET_TAG, html, f'\t\t<link rel="stylesheet" href="{sheet}">\n')
    if html.count(CHARSET_META) != 1 or "name=\"viewport\"" in html:
        changed("index.html no longer has one charset and no viewport")
    html = html.replace(CHARSET_META, f"{CHARSET_META}\n\t\t{VIEWPORT_META}")
    # xpra's page as shipped stays beside it, the benchmark's baseline (bench/session-bench.ts).
    shutil.copyfile(index, os.path.join(www, "xpra-index.html"))
    write_compressed(index, html.encode("utf-8"))
    print(f"{script}: {len(scripts)} scripts; {sheet}: {len(sheets)} stylesheets; workers: {', '.join(workers.values())}")


if __name__ == "__main__":
    main()
