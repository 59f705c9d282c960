#!/usr/bin/python3
"""Sets the virtual screen's size (WxH) before the app starts.

Xvfb starts at its largest size (the quality preset's: the most a client can get); until a
client attaches and xpra resizes the screen to the client's, a maximized Firefox would lay out and
paint pages at that size, many times the pixels of 1280x720, which made pre-warmed sessions'
claims (the requested page loaded and painted) measurably slower.
"""
import sys

from xpra.x11.bindings.posix_display_source import init_posix_display_source

init_posix_display_source()
from xpra.x11.bindings.randr_bindings import RandRBindings  # noqa: E402 (needs the display first)

w, h = (int(v) for v in sys.argv[1].split("x"))
randr = RandRBindings()
randr.add_screen_size(w, h)
if not randr.set_screen_size(w, h):
    sys.exit(f"hackstream-screen-size: cannot set the screen to {w}x{h}")
