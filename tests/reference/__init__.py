"""An independent reference model of SPEC's calculation rules, checked against the engine.

One module per rule family, plain Python loops over exact fractions, no pandas and no
import of the engine. `spec.py` holds the plain data a generated workspace is made of;
`cycle.py` replays a sequence of runs and closes and returns each run's register.
"""
