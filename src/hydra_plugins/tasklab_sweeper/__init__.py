"""tasklab's Hydra sweeper (``hydra/sweeper=tasklab``, tasklab-train's default)."""
