"""digestgate's built-in rules: one module per rule, found by walking this package."""
