"""Renderings of committed runs: registers, payroll files, workbooks and PDF statements.

`reports.rendering` writes the files of one run; `reports.publish` puts them in place
as `out/P/` (staging, swap, healing). Reads what `compensation` produced; imports
nothing of `icm`, `territories` or the web workspace.
"""
