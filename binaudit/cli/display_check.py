"""Before the first window on Linux/X11: are the system libraries Qt's xcb plugin needs installed?

Without one of them Qt aborts the whole process with "Could not load the Qt platform plugin xcb ...
libxcb-cursor0 is needed", which names the wrong package when libxcb-icccm4 or libxcb-keysyms1 is
what is missing. This check runs before the QApplication exists (no Qt import) and names the
packages exactly, with the apt-get and dnf lines that install them.
"""

from __future__ import annotations

import ctypes.util
import os
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping

SKIP_ENV = "BINAUDIT_SKIP_LIBRARY_CHECK"
# soname -> (Debian/Ubuntu package, Fedora/RHEL package): what PySide6's libqxcb.so and libQt6XcbQpa.so
# load from the system (ldd on PySide6 6.x; the Qt libraries themselves come with the wheel).
XCB_LIBRARIES: dict[str, tuple[str, str]] = {
    "libxcb.so.1": ("libxcb1", "libxcb"),
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11"),
    "libX11.so.6": ("libx11-6", "libX11"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb"),
    "libGL.so.1": ("libgl1", "libglvnd-glx"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs"),
}


def platform_is_xcb(environ: Mapping[str, str] = os.environ, platform: str = sys.platform) -> bool:
    """True when Qt will use its xcb plugin: Linux, an X display, QT_QPA_PLATFORM unset or xcb
    (and not a Wayland session, where Qt picks its wayland plugin first)."""
    if not platform.startswith("linux"):
        return False
    chosen = environ.get("QT_QPA_PLATFORM", "").strip().lower()
    if chosen:
        return chosen.split(":")[0] == "xcb"
    wayland = bool(environ.get("WAYLAND_DISPLAY")) and environ.get("XDG_SESSION_TYPE", "").lower() == "wayland"
    return bool(environ.get("DISPLAY")) and not wayland


def ldconfig_sonames() -> set[str] | None:
    """Every shared library the dynamic linker's cache knows (`ldconfig -p`); None when that cannot be read."""
    for ldconfig in ("/sbin/ldconfig", "/usr/sbin/ldconfig", "ldconfig"):
        try:
            out = subprocess.run([ldconfig, "-p"], capture_output=True, text=True, timeout=10, check=False).stdout
        except (OSError, subprocess.SubprocessError):
            continue
        names = {line.split()[0] for line in out.splitlines()[1:] if line.startswith(("\t", " ")) and line.split()}
        if names:
            return names
    return None


def library_dirs(environ: Mapping[str, str]) -> list[str]:
    """Folders outside the linker's cache where the plugin may find a library: LD_LIBRARY_PATH, this Python's
    lib (a conda environment) and the Qt libraries of the PySide6 wheel (found without importing it)."""
    import importlib.util

    dirs = [d for d in environ.get("LD_LIBRARY_PATH", "").split(":") if d]
    dirs.append(os.path.join(sys.prefix, "lib"))
    spec = importlib.util.find_spec("PySide6")
    for location in (spec.submodule_search_locations or []) if spec else []:
        dirs.append(os.path.join(location, "Qt", "lib"))
    return dirs


def _in_library_dirs(soname: str, dirs: list[str]) -> bool:
    return any(os.path.exists(os.path.join(d, soname)) for d in dirs)


def system_finder(environ: Mapping[str, str] = os.environ) -> Callable[[str], bool]:
    """found(soname): in the linker's cache or LD_LIBRARY_PATH; without ldconfig, ctypes.util.find_library."""
    cache, dirs = ldconfig_sonames(), library_dirs(environ)

    def found(soname: str) -> bool:
        if _in_library_dirs(soname, dirs):
            return True
        if cache is not None:
            return soname in cache
        stem = soname[3:].split(".so")[0]  # libxcb-icccm.so.4 -> xcb-icccm
        return ctypes.util.find_library(stem) is not None

    return found


def missing_libraries(found: Callable[[str], bool], sonames: Iterable[str] = XCB_LIBRARIES) -> list[str]:
    """The sonames `found` does not find, in table order."""
    return [s for s in sonames if not found(s)]


def install_advice(missing: list[str]) -> str:
    """What is missing and the apt-get / dnf lines that install it."""
    apt = sorted({XCB_LIBRARIES[s][0] for s in missing})
    dnf = sorted({XCB_LIBRARIES[s][1] for s in missing})
    return (f"binaudit: the window cannot open: Qt's X11 (xcb) platform plugin needs system libraries that are "
            f"missing: {', '.join(missing)}.\n"
            f"Install them, then start binaudit again:\n"
            f"  Debian/Ubuntu:  sudo apt-get install {' '.join(apt)}\n"
            f"  Fedora/RHEL:    sudo dnf install {' '.join(dnf)}\n"
            f"(If they are installed where this check cannot see them, set {SKIP_ENV}=1.)")


def check_xcb(environ: Mapping[str, str] = os.environ, platform: str = sys.platform,
              found: Callable[[str], bool] | None = None) -> str | None:
    """The advice to print when the window would fail for a missing library, else None (also when not xcb,
    and when BINAUDIT_SKIP_LIBRARY_CHECK=1 says the check is wrong on this machine)."""
    if environ.get(SKIP_ENV) == "1" or not platform_is_xcb(environ, platform):
        return None
    missing = missing_libraries(found or system_finder(environ))
    return install_advice(missing) if missing else None
