"""FactLedger: check-worthy claims, sourced evidence, verdicts with provenance."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("factledger")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+source"

__all__ = ["__version__"]
