"""tasklab's Hydra sweeper: what ``hydra/sweeper=basic`` (the default) means in tasklab-train."""
