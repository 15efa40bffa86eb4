"""Training code for FactLedger's own models. The product never imports this package.

Each trainer is a module `training.<name>` with `run(argv: list[str]) -> int`; `factledger train
NAME ...` is the entry point.
"""
