"""Backbones (the shared trunk) and the multi-head network built on them."""
