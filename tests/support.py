"""Shared test data."""

from symescape import REGISTRY

REGISTRY_NAMES = sorted(set(REGISTRY) - {"silu"})
"""Every distinct registry activation (silu is an alias of swish)."""
