import os
import sys

from hypothesis import HealthCheck, settings

sys.path.insert(0, os.path.dirname(__file__))

# every test computes what it checks: no results shared from an earlier command or test (the
# results cache is tested on its own, in a temporary folder)
os.environ["SYMESCAPE_RESULTS_CACHE"] = "off"

# one XLA host device per core, as the compiled engine sets up in a user's process, before any
# test imports JAX (else the tests' device count would depend on their order)
from symescape.numeric.compiled import configure_host_devices  # noqa: E402

configure_host_devices()

# SymPy work per example is slow and variable: no per-example deadline. The "thorough" profile
# is for local runs (HYPOTHESIS_PROFILE=thorough); CI uses "default".
settings.register_profile(
    "default", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "thorough", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
