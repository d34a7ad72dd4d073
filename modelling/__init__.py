"""Plan modelling (issue 18): what a plan will cost before anyone is paid by it.

Uses `compensation` as a library: `scenario` reads `model:` files, `population` says who
is modelled, `attainment` draws attainment, `pricing` pays the draws through the engine's
own rule functions, `montecarlo` sums them up per candidate, `replay` re-runs past months
on a scratch ledger, `landing` forecasts this year's cost, `outputs` writes the workbook
and the chart, `check` writes one draw as a workspace for `icm run`.
"""
