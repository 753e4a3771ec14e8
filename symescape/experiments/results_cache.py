"""Results shared between commands: what ``symescape verify`` computed, ``symescape reproduce``
reuses (and the reverse), when the code and the environment are the same.

Some claims and figures are one computation shown twice: the ``fig5-cascade`` claim and figure 5
train the same networks from the same starts. Their results are stored in a
:class:`~symescape.experiments.sweeps.SweepStore` under
``$SYMESCAPE_RESULTS_CACHE`` (default ``~/.cache/symescape/results``), in a folder named by a
fingerprint of everything that could change a number: the source of every module of this
package, the versions of the numerical libraries, the Python version, the machine, the usable
cores and the XLA flags. Any edit to the package gives a new folder, so a result is never reused
by code that might have computed something else. ``SYMESCAPE_RESULTS_CACHE=off`` turns the
sharing off (every command computes everything; the test suite runs so).
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import sys
import time
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from symescape.experiments.sweeps import SweepStore
from symescape.numeric.compiled import configure_host_devices
from symescape.processes import usable_cores

RESULTS_CACHE_VARIABLE = "SYMESCAPE_RESULTS_CACHE"
"""Environment variable: the results cache's folder, or ``off``."""

FINGERPRINT_LIBRARIES = ("numpy", "scipy", "sympy", "mpmath", "jax", "jaxlib")
"""Libraries whose versions enter the fingerprint (a version change may change a number)."""

STALE_AFTER_DAYS = 7.0
"""Folders of other fingerprints (other code) untouched this long are removed."""


def source_fingerprint(package: Path) -> str:
    """SHA-256 (hex) over the relative path and the bytes of every ``.py`` file under
    ``package``."""
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def environment_fingerprint() -> str:
    """The versions of :data:`FINGERPRINT_LIBRARIES`, Python, the machine, :func:`usable_cores`
    and the XLA settings, as one text."""
    # the compiled engine adds its host-device flag to XLA_FLAGS before JAX starts; add it now
    # so that a process fingerprinting before its first training run reads the same flags
    configure_host_devices()
    versions = []
    for name in FINGERPRINT_LIBRARIES:
        try:
            versions.append(f"{name}={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name} absent")
    environment = (
        sys.version,
        platform.machine(),
        f"cores={usable_cores()}",
        f"XLA_FLAGS={os.environ.get('XLA_FLAGS', '')}",
        f"SYMESCAPE_HOST_DEVICES={os.environ.get('SYMESCAPE_HOST_DEVICES', '')}",
    )
    return "\n".join((*versions, *environment))


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """SHA-256 (hex) of this package's source (:func:`source_fingerprint`) and the environment
    (:func:`environment_fingerprint`): a result computed under another fingerprint is never
    reused."""
    package = Path(__file__).resolve().parents[1]
    text = f"{source_fingerprint(package)}\n{environment_fingerprint()}"
    return hashlib.sha256(text.encode()).hexdigest()


def results_cache_folder() -> Path | None:
    """The folder of this fingerprint's shared results, or None when sharing is off."""
    setting = os.environ.get(RESULTS_CACHE_VARIABLE, "")
    if setting == "off":
        return None
    if setting:
        base = Path(setting).expanduser()
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
        base = base / "symescape" / "results"
    return base / code_fingerprint()[:20]


def results_cache() -> SweepStore | None:
    """The shared store (None when ``SYMESCAPE_RESULTS_CACHE=off``); folders of other
    fingerprints untouched for :data:`STALE_AFTER_DAYS` are removed on the way."""
    folder = results_cache_folder()
    if folder is None:
        return None
    _remove_stale_siblings(folder)
    return SweepStore(folder)


def _remove_stale_siblings(folder: Path) -> None:
    if not folder.parent.is_dir():
        return
    cutoff = time.time() - STALE_AFTER_DAYS * 86400
    for sibling in folder.parent.iterdir():
        name = sibling.name
        is_fingerprint = len(name) == 20 and all(c in "0123456789abcdef" for c in name)
        if sibling != folder and is_fingerprint and sibling.stat().st_mtime < cutoff:
            shutil.rmtree(sibling, ignore_errors=True)
