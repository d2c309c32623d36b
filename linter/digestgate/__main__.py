"""`python -m digestgate`."""

from digestgate.cli import main

if __name__ == "__main__":
    main()
