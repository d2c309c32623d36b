"""`python -m digestgate`."""

from digestgate.cli import run

if __name__ == "__main__":
    run()
