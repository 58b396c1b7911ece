#!/usr/bin/env python3
"""Screenshot of an HTML page by Debian's headless chromium, without a network.

    scripts/screenshot.py PAGE.html OUT.png [--size 1280,960]

The browser runs in a network namespace of its own when the system allows one (``unshare -n``),
and with every host unresolvable in any case, so the picture shows what the page draws offline.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--size", default="1280,960", help="window width,height in pixels")
    args = parser.parse_args()
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        print("screenshot: chromium is not installed (make browser-deps)", file=sys.stderr)
        return 1
    command = [browser]
    if shutil.which("unshare") and subprocess.run(["unshare", "-n", "true"], check=False).returncode == 0:
        command = ["unshare", "-n", browser]
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run(
            [
                *command,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                "--proxy-server=127.0.0.1:9",
                "--host-resolver-rules=MAP * ~NOTFOUND",
                "--virtual-time-budget=10000",
                f"--window-size={args.size}",
                f"--screenshot={args.output.resolve()}",
                args.page.resolve().as_uri(),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    if not args.output.exists():
        print(f"screenshot: chromium wrote no picture:\n{done.stderr}", file=sys.stderr)
        return 1
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
