"""Exercises: student notebooks made from the derivations, and a grader for derived formulas.

A derivation marks its exercises with `exercise(...)` (the question, the named inputs and the
reference answer, all literals) and tags the cells that hold the solution `solution`.
`python -m gradbook exercises` reads those statically, writes one student notebook per
derivation to notebooks/exercises/, and the exercise bank (_bank_data.py) that `grade`
consults. Modules here are private; `grade` and `exercise` are re-exported by `gradbook`.

Two sides. kernel/ is what runs on the student's side when a submission is graded (the runner
that runs cells and hands answers over as data, the callee that calls a function answer, the
jail that starts both inside the sandbox); it imports nothing of gradbook. Everything else is
the grader's: reading answers (_received, _srepr), parsing, proving, evaluating, diagnosing
(_grader, _diagnose, _feedback), the sandbox's plan (_sandbox), running and collecting a
submission (_kernel_run, _submission), a class (_class) and Gradescope (_gradescope).
"""
