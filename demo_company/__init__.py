"""Altamira Software, the demo company: a year of realistic data and its payout cycle.

`company` writes the workspace (plans and data, from a fixed seed); `year` runs and
closes its twelve months through `compensation.cycle`, published by `reports`, exactly
as a finance team's cycle would. Not part of the engine: nothing in `compensation/`
imports it.
"""
