#!/usr/bin/env python3
"""Build every notebook in notebooks/ from its source in derivations/ (see --help)."""
from pathlib import Path

from gradbook.cli import main

if __name__ == "__main__":
    raise SystemExit(main(root=Path(__file__).resolve().parent))
