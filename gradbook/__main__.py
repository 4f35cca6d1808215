"""`python -m gradbook`: the one command line (build, derive, exercises, grade)."""
import sys

from gradbook.cli import main, usage

if sys.argv[1:2] in ([], ["-h"], ["--help"]):
    print(usage())
    raise SystemExit(0 if sys.argv[1:] else 2)
raise SystemExit(main())
