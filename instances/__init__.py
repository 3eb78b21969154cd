"""Shipped example instances (package data; see optimizer.examples)."""
