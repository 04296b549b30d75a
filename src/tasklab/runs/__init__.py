"""Run bookkeeping around a fit: run folders named by their overrides, markers of runs in
flight, checkpoints to resume from, and the commands that inspect or replay runs."""
