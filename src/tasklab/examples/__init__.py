"""Real data sets written in the ``data=files`` format, as templates for a user's own."""
