"""Exercises: student notebooks made from the derivations, and a grader for derived formulas.

A derivation marks its exercises with `exercise(...)` (the question, the named inputs and the
reference answer, all literals) and tags the cells that hold the solution `solution`.
`python -m gradbook exercises` reads those statically, writes one student notebook per
derivation to notebooks/exercises/, and the exercise bank (_bank_data.py) that `grade`
consults. Modules here are private; `grade` and `exercise` are re-exported by `gradbook`.
"""
