#!/usr/bin/python3 -I
"""Runs a command with the kernel's same-page merging (KSM) allowed on all of its memory.

Sessions of one image hold many identical pages (Firefox's compiled scripts and startup cache, the
same libraries' relocated data, xpra's modules): with HACKSTREAM_MEMORY_MERGE=1 (the worker's
HACKSTREAM_SESSION_MEMORY_MERGE=on) the entrypoint starts xpra through this, so that xpra, Xvfb and
the app, which inherit the setting across fork and exec (checked on Linux 6.18), may share those
pages with other sessions' once the host's ksmd runs. It is off by default: merged pages are a
side channel between sessions (a write to a shared page takes measurably longer), acceptable only
where the users of one host trust each other. No privilege is needed; a kernel without the call
(before 6.4) or with KSM compiled out runs the command unchanged, with a warning.
"""
import ctypes
import os
import sys

PR_SET_MEMORY_MERGE = 67

if len(sys.argv) < 2:
    sys.exit("usage: hackstream-memory-merge COMMAND [ARGUMENT]...")
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0) != 0:
    print(f"hackstream-memory-merge: the kernel refused same-page merging ({os.strerror(ctypes.get_errno())}); running without it", file=sys.stderr)
os.execvp(sys.argv[1], sys.argv[1:])
