"""Checks a wheel built for Windows without a Windows to install it on.

The native module must be a 64-bit Windows DLL that imports Python only through python3.dll
(the stable ABI, so one wheel serves every Python from 3.10 on) and otherwise only DLLs that
every Windows has; and the wheel must carry the same Python files as the one built for Linux
(``target/wheels``), so that nothing is left out on Windows.

Usage: python scripts/check_windows_wheel.py WHEEL
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

# DLLs of Windows itself (and the C runtime mingw links against); compared in lower case.
SYSTEM_DLLS = {
    "advapi32.dll",
    "bcrypt.dll",
    "bcryptprimitives.dll",
    "kernel32.dll",
    "msvcrt.dll",
    "ntdll.dll",
    "userenv.dll",
    "ws2_32.dll",
    "secur32.dll",
    "crypt32.dll",
    "ole32.dll",
    "oleaut32.dll",
    "shell32.dll",
    "user32.dll",
}
OBJDUMP = "x86_64-w64-mingw32-objdump"


def imported_dlls(module: Path) -> list[str]:
    dump = subprocess.run([OBJDUMP, "-p", str(module)], check=True, capture_output=True, text=True)
    if "file format pei-x86-64" not in dump.stdout:
        raise SystemExit(f"{module.name} is not a 64-bit Windows DLL")
    return re.findall(r"DLL Name: (\S+)", dump.stdout)


def problems(wheel: Path) -> list[str]:
    found: list[str] = []
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        modules = [n for n in names if n.endswith(".pyd")]
        if modules != ["influxdb_datalogger/_native.pyd"]:
            return [f"expected one native module influxdb_datalogger/_native.pyd, found {modules}"]
        with tempfile.TemporaryDirectory() as scratch:
            module = Path(archive.extract(modules[0], scratch))
            dlls = [d.lower() for d in imported_dlls(module)]
    if "python3.dll" not in dlls:
        found.append(f"the module does not import python3.dll (the stable ABI): {dlls}")
    for dll in dlls:
        versioned_python = re.fullmatch(r"python3\d+\.dll", dll)
        if versioned_python:
            found.append(f"imports {dll}: bound to one Python version, not the stable ABI")
        elif dll != "python3.dll" and dll not in SYSTEM_DLLS and not dll.startswith("api-ms-win-"):
            found.append(f"imports {dll}, which a Windows machine may not have")
    linux_wheels = sorted(Path("target/wheels").glob("*.whl"))
    if linux_wheels:
        with zipfile.ZipFile(linux_wheels[0]) as archive:
            linux_python = {n for n in archive.namelist() if n.endswith((".py", ".pyi", "py.typed"))}
        windows_python = {n for n in names if n.endswith((".py", ".pyi", "py.typed"))}
        if linux_python != windows_python:
            found.append(
                f"Python files differ from {linux_wheels[0].name}: "
                f"only on Linux {sorted(linux_python - windows_python)}, "
                f"only on Windows {sorted(windows_python - linux_python)}"
            )
    return found


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    wheel = Path(sys.argv[1])
    if not wheel.name.endswith("-win_amd64.whl"):
        raise SystemExit(f"{wheel.name} is not a wheel for 64-bit Windows")
    found = problems(wheel)
    for problem in found:
        print(f"{wheel.name}: {problem}", file=sys.stderr)
    if found:
        raise SystemExit(1)
    print(f"{wheel.name}: a Windows DLL on the stable ABI, importing only system DLLs and python3.dll")


if __name__ == "__main__":
    main()
