"""Prefect's API clients in one process share their TLS contexts, and those still verify."""

from __future__ import annotations

import asyncio
import ssl
import sys


def test_flow_runs_share_one_verified_tls_context(prefect_harness, monkeypatch):
    from prefect import flow
    from prefect.client import orchestration

    import flows  # noqa: F401  (installs the sharing)
    from flows._env import _SharedTLSContexts, share_tls_contexts

    assert share_tls_contexts() and isinstance(orchestration.ssl, _SharedTLSContexts)
    made: list[tuple[str, str | None]] = []  # (calling module, CA file) of every context built
    real = ssl.create_default_context

    def counting(*args, **kwargs):
        made.append((sys._getframe(1).f_globals["__name__"], kwargs.get("cafile")))
        return real(*args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", counting)
    orchestration.ssl.clear()

    @flow
    async def tiny(x: int) -> int:
        return x + 1

    assert [asyncio.run(tiny(i)) for i in range(3)] == [1, 2, 3]
    # unshared, Prefect's client module built two to four contexts per run; shared, one in all
    shared = [cafile for module, cafile in made if module == "flows._env"]
    assert len(shared) == 1 and not [m for m, _ in made if m == orchestration.__name__]
    ctx = orchestration.ssl.create_default_context(cafile=shared[0])
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
