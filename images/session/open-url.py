#!/usr/bin/python3
"""Opens a URL in the Firefox already running in this container (a warm container claimed by a
session): one call of Firefox's D-Bus remote interface on the container's session bus.

This is what `firefox-esr URL` does when it finds Firefox running, minus starting a second
Firefox process to do it (about 100 ms of CPU per claim, measured; more when several claims run
at once). The URL is one argument of the command line Firefox receives, never shell text.
"""
import base64
import os
import struct
import subprocess
import sys

PROFILE = os.path.join(os.environ["HOME"], ".mozilla", "hackstream-profile")


def remote_command_line(args: list[str], cwd: str = "/") -> bytes:
    """Firefox's remote command line: [argc][offset of each argument]<cwd>\\0<arg>\\0...
    (little-endian int32 header; offsets from the start of the buffer)."""
    header = 4 * (len(args) + 1)
    body = cwd.encode() + b"\0"
    offsets = []
    for arg in args:
        offsets.append(header + len(body))
        body += arg.encode() + b"\0"
    return struct.pack(f"<{len(args) + 1}i", len(args), *offsets) + body


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: hackstream-open-url URL", file=sys.stderr)
        return 2
    url = sys.argv[1]
    # Only web URLs (the API admits nothing else): never anything Firefox could read as an option.
    if not url.startswith(("http://", "https://")):
        print("hackstream-open-url: not an http(s) URL", file=sys.stderr)
        return 2
    # Firefox names its D-Bus service after the profile path (base64, D-Bus-safe characters).
    profile = base64.b64encode(PROFILE.encode()).decode().translate(str.maketrans("+/=", "___"))
    payload = ",".join(str(b) for b in remote_command_line(["firefox-esr", url]))
    bus = f"unix:path={os.environ['XDG_RUNTIME_DIR']}/bus"
    done = subprocess.run(
        ["dbus-send", "--session", "--print-reply", "--reply-timeout=10000",
         f"--dest=org.mozilla.firefox.{profile}", "/org/mozilla/firefox/Remote",
         "org.mozilla.firefox.OpenURL", f"array:byte:{payload}"],
        env={**os.environ, "DBUS_SESSION_BUS_ADDRESS": bus}, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        print(f"hackstream-open-url: Firefox did not take the URL: {done.stderr.strip()}", file=sys.stderr)
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
