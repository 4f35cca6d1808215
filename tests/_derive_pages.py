"""What derive shows, captured as a notebook gets it: the tests of its tables and pages read this."""
import pytest

from gradbook import derive


def derive_markdown(f, **kw) -> list[str]:
    """The Markdown blocks `derive(f, graph=False, **kw)` displays in a notebook, in order."""
    import IPython.display

    from gradbook import Ledger, _display, use_ledger

    out = []
    with pytest.MonkeyPatch.context() as mp, use_ledger(Ledger()):
        mp.setattr(_display, "in_notebook", lambda: True)
        mp.setattr(IPython.display, "display",
                   lambda obj, raw=False: out.append(obj["text/markdown"] if raw else
                                                     getattr(obj, "_repr_markdown_", str)()))
        derive(f, graph=False, **kw)
    return [md for md in out if isinstance(md, str)]
