"""Procedural worlds, their tasks, label masks and the Lightning DataModule that serves them."""
