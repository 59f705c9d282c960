#!/usr/bin/env python3
"""Waits until the session's app has a window: one of the given class in the list of windows xpra
manages (the root window's _NET_CLIENT_LIST, which xpra, the display's window manager, keeps).

The worker runs this once per start instead of polling `xpra info` (a Python process inside the
container plus the server's whole info report, every 100 ms while the app starts, in the
container's own CPU budget). It blocks on X events, so it costs nothing while it waits.

usage: hackstream-app-window <window class> <seconds>
exit 0: the window exists; 1: no such window within the time; 3: no X display within the time.

With --close, asks each window of the class to close (WM_DELETE_WINDOW, as a window manager's
close button does), which an app answers by saving what it holds and quitting; the worker does
this before it removes a persistent session's container.

usage: hackstream-app-window --close <window class>
exit 0: asked at least one window; 1: there was none; 3: no X display.
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
x11.XSendEvent.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_long, ctypes.c_void_p]
x11.XFlush.argtypes = [ctypes.c_void_p]

CLIENT_MESSAGE = 33


class ClientMessageEvent(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("serial", ctypes.c_ulong), ("send_event", ctypes.c_int),
                ("display", ctypes.c_void_p), ("window", ctypes.c_ulong), ("message_type", ctypes.c_ulong),
                ("format", ctypes.c_int), ("data", ctypes.c_long * 5),
                # XSendEvent takes a whole XEvent (a union of X_EVENT_SIZE bytes).
                ("pad", ctypes.c_char * X_EVENT_SIZE)]

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


def open_display(deadline):
    while True:
        display = x11.XOpenDisplay(os.environ.get("DISPLAY", ":100").encode())
        if display is not None:
            return display
        if time.monotonic() > deadline:
            print("no X display", file=sys.stderr)
            sys.exit(3)
        time.sleep(0.05)  # Xvfb is still starting: a few rounds at most


def close_windows(wanted):
    display = open_display(time.monotonic())
    root = x11.XDefaultRootWindow(display)
    client_list = x11.XInternAtom(display, b"_NET_CLIENT_LIST", 0)
    protocols = x11.XInternAtom(display, b"WM_PROTOCOLS", 0)
    delete = x11.XInternAtom(display, b"WM_DELETE_WINDOW", 0)
    windows = [w for w in managed_windows(display, root, client_list) if class_of(display, w) == wanted]
    for window in windows:
        event = ClientMessageEvent(type=CLIENT_MESSAGE, window=window, message_type=protocols, format=32)
        event.data[0] = delete
        event.data[1] = 0  # CurrentTime
        x11.XSendEvent(display, window, 0, 0, ctypes.byref(event))
    x11.XFlush(display)
    if not windows:
        print(f"no {wanted} window", file=sys.stderr)
        sys.exit(1)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--close":
        return close_windows(sys.argv[2])
    if len(sys.argv) != 3:
        sys.exit("usage: hackstream-app-window <window class> <seconds> | --close <window class>")
    wanted, deadline = sys.argv[1], time.monotonic() + float(sys.argv[2])
    display = open_display(deadline)
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
