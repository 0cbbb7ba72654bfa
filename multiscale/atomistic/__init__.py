"""Atomistic layer."""
