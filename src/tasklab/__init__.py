"""tasklab: evidence for learning from multiple tasks.

Transfer, multi-task and end-to-end vs staged learning, compared with honest statistics.
"""

__version__ = "0.1.0"
