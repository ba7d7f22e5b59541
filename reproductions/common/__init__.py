"""Shared machinery for the reproductions; no paper-specific code lives here.

`config` (typed `--set` overrides, field descriptions), `claims` (Claim and verdicts), `data`
(no-download data, real datasets, seeded loaders), `trainer` (the one generic training loop),
`runfolder` (what a run writes to disk), `runner` (a whole run: variants, evaluation, claims).
Import the submodule you need; importing this package does not import torch.
"""
