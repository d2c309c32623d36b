"""digestgate: digest-locked container image promotion for CI workflows."""

__version__ = "0.1.0"
