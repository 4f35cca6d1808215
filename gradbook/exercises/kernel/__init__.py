"""What runs on the student's side: the kernel's runner, and the process that calls a function answer.

Nothing here imports gradbook: each module is a standalone file that the grader hands over by
its source (runner.py) or starts by its path (callee.py, jail.py). They run the student's code
and hand over data; none of them makes a verdict.
"""
