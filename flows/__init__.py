"""Prefect flows: thin wrappers over the library. The only package that imports prefect."""

from flows._env import configure, share_tls_contexts

configure()
share_tls_contexts()

from flows.batch import batch_flow, recheck_flow  # noqa: E402
from flows.check import check_article_flow, check_claim_flow, set_runtime  # noqa: E402

__all__ = ["batch_flow", "check_article_flow", "check_claim_flow", "recheck_flow", "set_runtime"]
