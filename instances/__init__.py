"""Shipped example instances (package data; see stockpile.examples)."""
