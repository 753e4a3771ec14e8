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
import warnings
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from symescape.errors import ResultsCacheWarning
from symescape.experiments.sweeps import SweepStore, check_writable_folder
from symescape.numeric.compiled import planned_xla_flags
from symescape.processes import usable_cores

RESULTS_CACHE_VARIABLE = "SYMESCAPE_RESULTS_CACHE"
"""Environment variable: the results cache's folder, or ``off``."""

FINGERPRINT_LIBRARIES = ("numpy", "scipy", "sympy", "mpmath", "jax", "jaxlib")
"""Libraries whose versions enter the fingerprint (a version change may change a number)."""

STALE_AFTER_DAYS = 7.0
"""Folders of other fingerprints (other code) unused this long are removed."""


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
    versions = []
    for name in FINGERPRINT_LIBRARIES:
        try:
            versions.append(f"{name}={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name} absent")
    environment = (
        sys.version,
        platform.machine(),
        f"cpu={_cpu_features()}",
        f"cores={usable_cores()}",
        # the flags the compiled engine runs with (its host-device flag included), read without
        # setting them: importing the package must not change the user's XLA_FLAGS
        f"XLA_FLAGS={planned_xla_flags()}",
        *(f"{name}={os.environ.get(name, '')}" for name in ENVIRONMENT_VARIABLES),
    )
    return "\n".join((*versions, *environment))


ENVIRONMENT_VARIABLES = (
    "SYMESCAPE_HOST_DEVICES",
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
)
"""Variables, besides XLA_FLAGS, that change how the numbers are computed (host devices, BLAS
threads)."""


def _cpu_features() -> str:
    """The CPU's model and instruction-set flags (XLA compiles for them; a home folder shared by
    an AVX2 and an AVX-512 machine must not mix their results), hashed; without
    /proc/cpuinfo, ``platform.processor()``."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor()
    wanted = ("model name", "flags")
    lines = [line for line in text.splitlines() if line.split(":")[0].strip() in wanted]
    return hashlib.sha256("\n".join(sorted(set(lines))).encode()).hexdigest()[:16]


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """SHA-256 (hex) of this package's source (:func:`source_fingerprint`) and the environment
    (:func:`environment_fingerprint`): a result computed under another fingerprint is never
    reused."""
    package = Path(__file__).resolve().parents[1]
    text = f"{source_fingerprint(package)}\n{environment_fingerprint()}"
    return hashlib.sha256(text.encode()).hexdigest()


def results_cache_folder() -> Path | None:
    """The folder of this fingerprint's shared results, or None when sharing is off (or there
    is no home directory to keep it in). An empty ``XDG_CACHE_HOME`` counts as unset."""
    setting = os.environ.get(RESULTS_CACHE_VARIABLE, "")
    if setting == "off":
        return None
    if setting:
        base = Path(setting).expanduser()
    else:
        xdg = os.environ.get("XDG_CACHE_HOME", "")
        if xdg:
            root = Path(xdg)
        else:
            try:
                root = Path.home() / ".cache"
            except RuntimeError:  # no HOME and no passwd entry: nowhere to keep it
                return None
        base = root / "symescape" / "results"
    return base.absolute() / code_fingerprint()[:20]


def results_cache() -> SweepStore | None:
    """The shared store (None when ``SYMESCAPE_RESULTS_CACHE=off``, or, with a
    :class:`~symescape.errors.ResultsCacheWarning`, when its folder cannot be written). Using
    it marks the folder as used; folders of other fingerprints unused for
    :data:`STALE_AFTER_DAYS` are removed on the way."""
    folder = results_cache_folder()
    if folder is None:
        return None
    try:
        check_writable_folder(folder)
        os.utime(folder)  # "used": the age that stale-folder removal reads
    except OSError as exc:
        warnings.warn(
            f"results cache {folder} cannot be written ({exc}); computing without it "
            f"(set {RESULTS_CACHE_VARIABLE}=DIR to move it, =off to silence this)",
            ResultsCacheWarning,
            stacklevel=2,
        )
        return None
    _remove_stale_siblings(folder)
    return SweepStore(folder)


def _remove_stale_siblings(folder: Path) -> None:
    cutoff = time.time() - STALE_AFTER_DAYS * 86400
    try:
        siblings = list(folder.parent.iterdir())
    except OSError:
        return
    for sibling in siblings:
        name = sibling.name
        is_fingerprint = len(name) == 20 and all(c in "0123456789abcdef" for c in name)
        try:
            stale = sibling != folder and is_fingerprint and sibling.stat().st_mtime < cutoff
        except OSError:
            continue
        if stale:
            shutil.rmtree(sibling, ignore_errors=True)


# The fingerprint is taken when this module is imported, i.e. when the code that will compute
# is loaded, not when a claim first asks for the store minutes later (a file edited in between
# would otherwise label old code's results as the new code's).
code_fingerprint()
