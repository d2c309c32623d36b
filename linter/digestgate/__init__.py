"""digestgate: digest-locked container image promotion for CI workflows."""

__version__ = "0.1.0"


def version_text() -> str:
    """What `--version` prints: the version, and whether this install runs analysers
    compiled with mypyc (release wheels) or pure Python (a source checkout)."""
    import os
    from importlib.machinery import EXTENSION_SUFFIXES

    here = os.path.dirname(__file__)
    built = any(os.path.exists(os.path.join(here, "shell" + s)) for s in EXTENSION_SUFFIXES)
    return f"digestgate {__version__}" + (" (compiled with mypyc)" if built else "")
