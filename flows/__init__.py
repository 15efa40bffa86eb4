"""Prefect flows: thin wrappers over the library. The only package that imports prefect."""

from flows._env import configure

configure()

from flows.check import check_article_flow, check_claim_flow, set_runtime  # noqa: E402

__all__ = ["check_article_flow", "check_claim_flow", "set_runtime"]
