#!/usr/bin/python3 -I
"""Runs a command with the kernel's same-page merging (KSM) allowed on all of its memory.

The entrypoint starts xpra through this with HACKSTREAM_MEMORY_MERGE=1 (the worker's
HACKSTREAM_SESSION_MEMORY_MERGE=on; why it is off by default: the README's "Sessions' memory
merged"). xpra, Xvfb and the app inherit the setting across fork and exec, which the kernel keeps
across exec since Linux 6.7. No privilege is needed. A kernel that refuses the call, or that would
drop the setting at exec, runs the command unchanged, with a warning.
"""
import ctypes
import os
import re
import sys

PR_SET_MEMORY_MERGE = 67

if len(sys.argv) < 2:
    sys.exit("usage: hackstream-memory-merge COMMAND [ARGUMENT]...")


def kernel_keeps_it_across_exec() -> bool:
    major, minor = (int(part) for part in re.match(r"(\d+)\.(\d+)", os.uname().release).groups())
    return (major, minor) >= (6, 7)


libc = ctypes.CDLL(None, use_errno=True)
zero = ctypes.c_ulong(0)
if libc.prctl(PR_SET_MEMORY_MERGE, ctypes.c_ulong(1), zero, zero, zero) != 0:
    print(f"hackstream-memory-merge: the kernel refused same-page merging ({os.strerror(ctypes.get_errno())}); running without it", file=sys.stderr)
elif not kernel_keeps_it_across_exec():
    print(f"hackstream-memory-merge: kernel {os.uname().release} drops same-page merging at exec (6.7 keeps it); running without it", file=sys.stderr)
os.execvp(sys.argv[1], sys.argv[1:])
