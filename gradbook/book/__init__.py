"""The book: the executed notebooks as a static site, math as MathML, every claim indexed.

`python -m gradbook book` (or `make book`) writes book/; nothing is executed, nothing is
fetched from another host when a page is read.
"""
from ._build import BookError, Outcome, build_book

__all__ = ["BookError", "Outcome", "build_book"]
