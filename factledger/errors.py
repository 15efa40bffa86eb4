"""The small exception tree. Every message names the offending input."""

from __future__ import annotations

__all__ = [
    "Cancelled",
    "ConfigError",
    "ExtractionError",
    "FactLedgerError",
    "FetchError",
    "InputError",
    "LimitError",
    "PermanentFetchError",
    "TransientFetchError",
    "WarehouseError",
    "WarehouseLocked",
]


class FactLedgerError(Exception):
    """Base of every error FactLedger raises on purpose."""


class InputError(FactLedgerError):
    """A file, URL, claim or option given by the user cannot be used."""


class LimitError(InputError):
    """Input over (or under) one of the named limits in `factledger.settings.Limits`. `reason` is
    the short name a batch records for the article (article_too_large, claim_too_short)."""

    def __init__(self, message: str, reason: str = "over_limit"):
        self.reason = reason
        super().__init__(message)

    def __reduce__(self):
        return type(self), (str(self), self.reason)


class Cancelled(FactLedgerError):
    """The run was stopped by a signal (SIGINT, SIGTERM) before it finished; nothing it had not
    committed was stored."""

    def __init__(self, signal_name: str = "a signal"):
        self.signal_name = signal_name
        super().__init__(f"stopped by {signal_name}")

    def __reduce__(self):
        return type(self), (self.signal_name,)


class ConfigError(FactLedgerError):
    """A setting is missing or invalid."""


class FetchError(FactLedgerError):
    """A network fetch failed. `reason` is a short named status (timeout, http_404, ...)."""

    def __init__(self, url: str, reason: str, detail: str = "", status: int | None = None):
        self.url = url
        self.reason = reason
        self.status = status
        self.detail = detail
        msg = f"{reason}: {url}"
        if detail:
            msg += f" ({detail})"
        super().__init__(msg)

    def __reduce__(self):
        # Rebuilt whole when pickled (a fetch error raised on a Dask worker reaches the flow intact).
        return type(self), (self.url, self.reason, self.detail, self.status)


class TransientFetchError(FetchError):
    """Worth retrying later: timeouts, connection errors, 429 and 5xx."""


class PermanentFetchError(FetchError):
    """Retrying will not help: 4xx, wrong content type, too large, refused by policy."""


class ExtractionError(FactLedgerError):
    """A page or file was fetched but no usable text came out of it."""

    reason = "empty_text"


class WarehouseError(FactLedgerError):
    """The DuckDB warehouse cannot be opened, migrated or written."""


class WarehouseLocked(WarehouseError):
    """Another process holds the database file (a writer, or readers while this one wants to write)
    and did not let go in the time allowed."""
