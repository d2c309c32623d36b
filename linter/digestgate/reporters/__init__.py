"""Reporters: findings to text for people and machines. Each is a `render` function."""
