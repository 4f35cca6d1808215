"""`python -m gradbook`: the one command line (build, derive, grade)."""
from gradbook.cli import main

raise SystemExit(main())
