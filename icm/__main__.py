"""`icm` and `python -m icm`: the command, with the cyclic collector kept out of its imports.

Importing the command loads pandas, pyarrow, SQLAlchemy and pydantic: hundreds of
thousands of long-lived objects that the collector would otherwise scan over and over
while they load (about 0.15 s of every command). They are frozen once loaded, so later
collections skip them too.
"""

import gc


def main() -> None:
    """Run the command line: load the command with the collector paused, then run it."""
    gc.disable()
    try:
        from icm.cli import main as run_command
    finally:
        gc.freeze()
        gc.enable()
    run_command()


if __name__ == "__main__":
    main()
