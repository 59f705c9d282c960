#!/usr/bin/env python3
"""Patches Debian's xpra 3.1 at image build (the session image's Dockerfile runs it once).

Each patch replaces whole lines, found by their exact text (indentation included), which must
occur exactly as often as the patch expects: a new xpra whose code moved fails the build here
instead of running unpatched. The replacement keeps the original line's indentation. Every
patched module is compiled again.

    patch-xpra.py [XPRA_PACKAGE_DIR]   (default: Debian's, /usr/lib/python3/dist-packages/xpra)
"""
import os
import py_compile
import sys
from typing import List, NamedTuple


class Patch(NamedTuple):
    why: str
    file: str  # relative to xpra's package directory
    line: str  # the whole line, indentation included
    becomes: List[str]  # the lines in its place, each indented as it was
    times: int = 1


PATCHES = [
    Patch("xpra 3.1 listens with a backlog of 5: the ingress opening the HTML5 client's ~30 files at "
          "once overflowed it and every dropped SYN cost a 1 s retransmit (1.5 s per page load). 128 it is.",
          "net/socket_util.py", "        sock.listen(5)", ["sock.listen(128)"]),
    Patch("xpra 3.1 takes min(server limit, client limit) for the bandwidth limit, and a client that sets "
          "none (0, the HTML5 client's default) thereby lifts the server's --bandwidth-limit: a 0 on either "
          "side must mean 'no preference' instead, so that the quality presets' caps hold.",
          "server/source/client_connection.py", "        self.bandwidth_limit = min(server_bandwidth_limit, bandwidth_limit)",
          ["self.bandwidth_limit = min(server_bandwidth_limit or bandwidth_limit, bandwidth_limit or server_bandwidth_limit)"]),
    Patch("xpra 3.1 sleeps 0.5 s after adding a screen size that matches a new client's (nearly every "
          "browser window's size is new), blocking its main loop between the client's hello and its answer: "
          "the size is added and then set through the same X connection, in order, so the sleep goes.",
          "x11/x11_server_core.py", "                        time.sleep(0.5)", ["pass  # hackstream: no sleep after adding a screen size"]),
    Patch("xpra 3.1 takes the X clipboard at start and forwards every app's request for it to the client, "
          "also while none is attached: the request then times out after 1.5 s, and Firefox, which asks for "
          "the clipboard while it starts, waits that long for its window (bench/results/startup-ab-*.md). "
          "The clipboard now answers 'empty' at once until a client becomes its peer, and again once it left.",
          "server/mixins/clipboard_server.py", "            self._clipboard_helper.init_proxies_uuid()",
          ["self._clipboard_helper.init_proxies_uuid()", "self._clipboard_helper.enable_selections([])  # hackstream: no peer yet"]),
    Patch("(the same: once a client left)",
          "server/mixins/clipboard_server.py", "            ch.client_reset()",
          ["ch.client_reset()", "ch.enable_selections([])  # hackstream: no peer any more"], times=2),
    Patch("xpra 3.1 unmaps every window when a new client attaches (unless it shares them with a client still "
          "attached) and maps it again when the client does: Firefox then repaints the page on the expose, and "
          "a reconnecting client could wait for that repaint instead of getting the page at once. The windows "
          "stay mapped.",
          "x11/server.py", "                    self._desktop_manager.hide_window(window)",
          ["pass  # hackstream: windows stay mapped for a new client"]),
    Patch("xpra 3.1 gives a window that is no longer managed back to the root window after checking that it "
          "still exists, but outside its X error trap: an app destroying its window at that moment (as it "
          "quits, which a persistent session's end asks for) made GDK end xpra on the BadWindow, and with it "
          "the container, the app still saving its profile. Both calls are now in the trap.",
          "x11/models/window.py", "                    self.client_window.reparent(get_default_root_window(), 0, 0)",
          ["with xswallow:  # hackstream: the window may be gone by now", "    self.client_window.reparent(get_default_root_window(), 0, 0)"]),
    Patch("(the same: its event mask restored)",
          "x11/models/window.py", "                self.client_window.set_events(self.client_window_saved_events)",
          ["with xswallow:  # hackstream: the window may be gone by now", "    self.client_window.set_events(self.client_window_saved_events)"]),
]


def apply(package_dir: str) -> None:
    patched = set()
    for patch in PATCHES:
        path = os.path.join(package_dir, patch.file)
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        found = sum(1 for line in lines if line == patch.line)
        if found != patch.times:
            sys.exit(f"patch-xpra: {patch.file}: expected {patch.times} line(s) {patch.line.strip()!r}, found {found}")
        indent = patch.line[: len(patch.line) - len(patch.line.lstrip())]
        out = []
        for line in lines:
            out.extend([indent + new for new in patch.becomes] if line == patch.line else [line])
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(out))
        patched.add(path)
    for path in sorted(patched):
        py_compile.compile(path, doraise=True)
    print(f"patch-xpra: {len(PATCHES)} patches in {len(patched)} modules")


if __name__ == "__main__":
    apply(sys.argv[1] if len(sys.argv) > 1 else "/usr/lib/python3/dist-packages/xpra")
