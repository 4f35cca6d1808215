"""The checks: symbolic proofs, numeric checks, printed numbers, shapes, the ledger and catalog.

Modules here are private; their public names are re-exported, lazily, by `gradbook`.
"""
