"""The statistics of a report, as plain functions of numbers (numpy and scipy).

Nothing here reads a record or knows an arm, a regime or a file: intervals (``intervals``),
tests, the family's correction and power (``significance``), effect sizes (``effects``) and
learning-curve fits (``curve_fits``, run in parallel by ``parallel``). Adding a statistic
starts here; the analysis stores it on its row and ``report/tables.py`` gives it a column.
"""
