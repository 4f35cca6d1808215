"""The graph: a JAX function traced into nodes, drawn with its numbers, and derived node by node.

Modules here are private; their public names are re-exported, lazily, by `gradbook`.
"""
