"""Reads result records (never training code) and turns many runs into comparisons."""
