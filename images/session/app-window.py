#!/usr/bin/env python3
"""Waits until the session's app has a window: one of the given class in the list of windows xpra
manages (the root window's _NET_CLIENT_LIST, which xpra, the display's window manager, keeps).

The worker runs this once per start instead of polling `xpra info` (a Python process inside the
container plus the server's whole info report, every 100 ms while the app starts, in the
container's own CPU budget). It blocks on X events, so it costs nothing while it waits.

usage: hackstream-app-window <window class> <seconds>
exit 0: the window exists; 1: no such window within the time; 3: no X display within the time.
"""
import ctypes
import os
import select
import sys
import time

PROPERTY_CHANGE_MASK = 1 << 22
ANY_PROPERTY_TYPE = 0
X_EVENT_SIZE = 192  # sizeof(XEvent) on every ABI


class ClassHint(ctypes.Structure):
    # Pointers, not c_char_p: Xlib allocated the strings, and they go back to XFree.
    _fields_ = [("res_name", ctypes.c_void_p), ("res_class", ctypes.c_void_p)]


x11 = ctypes.cdll.LoadLibrary("libX11.so.6")
x11.XOpenDisplay.restype = ctypes.c_void_p
x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
x11.XDefaultRootWindow.restype = ctypes.c_ulong
x11.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
x11.XInternAtom.restype = ctypes.c_ulong
x11.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
x11.XSelectInput.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_long]
x11.XGetWindowProperty.argtypes = [
    ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_long, ctypes.c_long, ctypes.c_int, ctypes.c_ulong,
    ctypes.POINTER(ctypes.c_ulong), ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_ulong),
    ctypes.POINTER(ctypes.c_ulong), ctypes.POINTER(ctypes.c_void_p)]
x11.XGetClassHint.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.POINTER(ClassHint)]
x11.XFree.argtypes = [ctypes.c_void_p]
x11.XConnectionNumber.argtypes = [ctypes.c_void_p]
x11.XPending.argtypes = [ctypes.c_void_p]
x11.XNextEvent.argtypes = [ctypes.c_void_p, ctypes.c_void_p]

# A window may be gone between listing it and asking for its class: Xlib's default handler would
# exit on that BadWindow, so errors are ignored (the window then simply does not count).
ERROR_HANDLER = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)(lambda _d, _e: 0)
x11.XSetErrorHandler(ERROR_HANDLER)


def managed_windows(display, root, client_list):
    kind, fmt = ctypes.c_ulong(), ctypes.c_int()
    count, after, data = ctypes.c_ulong(), ctypes.c_ulong(), ctypes.c_void_p()
    status = x11.XGetWindowProperty(display, root, client_list, 0, 4096, 0, ANY_PROPERTY_TYPE, ctypes.byref(kind),
                                    ctypes.byref(fmt), ctypes.byref(count), ctypes.byref(after), ctypes.byref(data))
    if status != 0 or not data.value:
        return []
    try:
        # Format-32 properties come as C longs.
        return list(ctypes.cast(data, ctypes.POINTER(ctypes.c_ulong))[:count.value]) if fmt.value == 32 else []
    finally:
        x11.XFree(data)


def class_of(display, window):
    hint = ClassHint()
    if not x11.XGetClassHint(display, window, ctypes.byref(hint)):
        return None
    try:
        return ctypes.string_at(hint.res_class).decode("utf-8", "replace") if hint.res_class else None
    finally:
        for part in (hint.res_name, hint.res_class):
            if part:
                x11.XFree(part)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: hackstream-app-window <window class> <seconds>")
    wanted, deadline = sys.argv[1], time.monotonic() + float(sys.argv[2])
    display = None
    while display is None:
        display = x11.XOpenDisplay(os.environ.get("DISPLAY", ":100").encode())
        if display is None:
            if time.monotonic() > deadline:
                print("no X display", file=sys.stderr)
                sys.exit(3)
            time.sleep(0.05)  # Xvfb is still starting: a few rounds at most
    root = x11.XDefaultRootWindow(display)
    client_list = x11.XInternAtom(display, b"_NET_CLIENT_LIST", 0)
    # Selected before the first look, so that no change between the two is missed.
    x11.XSelectInput(display, root, PROPERTY_CHANGE_MASK)
    event = ctypes.create_string_buffer(X_EVENT_SIZE)
    fd = x11.XConnectionNumber(display)
    while True:
        if any(class_of(display, w) == wanted for w in managed_windows(display, root, client_list)):
            return
        left = deadline - time.monotonic()
        if left <= 0:
            print(f"no {wanted} window", file=sys.stderr)
            sys.exit(1)
        if not x11.XPending(display):
            select.select([fd], [], [], left)
        while x11.XPending(display):
            x11.XNextEvent(display, event)


if __name__ == "__main__":
    main()
