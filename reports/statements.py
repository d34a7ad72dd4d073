"""Rep statements: one PDF per rep per month, rendered from a committed run.

The jobs live apart: `reports.statement_content` builds what each statement shows (from
the `RunResult` only, never recalculating), `reports.statement_text` says why each line
pays what it pays, `reports.charts` draws the tier and curve charts, and `reports.pdf`
lays statements out with WeasyPrint in a sandbox, in batches over worker processes, with
a content-keyed cache. This module ties them together for `out/P/statements/`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Collection
from pathlib import Path

from compensation.results import RunResult
from reports.pdf import (
    StatementCache,
    content_key,
    render_pdfs,
    render_statement_batch,
    renderer_digest,
    stylesheet_text,
    template_environment,
)
from reports.statement_content import Statement, build_statements, iter_statements, statement_reps

REP_ID_RE = re.compile(r"^[A-Za-z0-9._-]+$")
LOG = logging.getLogger(__name__)

__all__ = ["Statement", "build_statements", "iter_statements", "render_pdfs",
           "render_statement_batch", "render_statements", "statement_path", "statement_reps",
           "stylesheet_text", "template_environment"]


def statement_path(folder: Path, rep_id: str) -> Path | None:
    """`folder/REP_ID.pdf`, or None when rep_id is not a safe file name (SPEC's rep_id rule)."""
    if not isinstance(rep_id, str) or not REP_ID_RE.match(rep_id) or set(rep_id) == {"."}:
        return None
    path = folder / f"{rep_id}.pdf"
    if path.resolve().parent != folder.resolve():
        return None
    return path


def render_statements(result: RunResult, target_dir: Path, reps: Collection[str] | None = None,
                      progress: Callable[[int, int], None] | None = None, *,
                      run_id: str | None = None, workers: int | None = None,
                      cache: bool = True, stats: dict | None = None) -> list[Path]:
    """Write `target_dir/statements/REP_ID.pdf` for each rep with lines (only `reps` if given).

    A statement whose content (and templates, fonts, renderer) is unchanged since an
    earlier render is copied from the workspace's `out/.statement-cache/`; only the
    others are laid out. Reps whose rep_id is not a safe file name get no file (the
    engine holds them anyway). `stats` (when given) receives `rendered` and `reused`.
    """
    folder = Path(target_dir) / "statements"
    folder.mkdir(parents=True, exist_ok=True)
    rep_ids = []
    for rep_id in statement_reps(result, reps):
        if statement_path(folder, rep_id) is None:
            LOG.warning("no statement for rep_id %r: not a valid file name", rep_id)
        else:
            rep_ids.append(rep_id)
    templates = result.workspace.templates_dir
    store = StatementCache(result.workspace.out_dir / ".statement-cache") if cache else None
    renderer = renderer_digest(templates) if cache else ""
    written: dict[str, Path] = {}
    keys: dict[str, str] = {}
    todo: list[Statement] = []
    done = 0
    for statement in iter_statements(result, rep_ids, run_id=run_id):
        pdf = None
        if store is not None:
            keys[statement.rep_id] = content_key(statement, renderer)
            pdf = store.get(keys[statement.rep_id])
        if pdf is None:
            todo.append(statement)
            continue
        written[statement.rep_id] = _write(folder, statement.rep_id, pdf)
        done += 1
    reused = done
    if progress:
        progress(done, len(rep_ids))
    step = (lambda d, t: progress(reused + d, len(rep_ids))) if progress else None
    settings = result.workspace.settings
    if settings.engine == "dask" and todo:  # issue 20: the run's Dask workers lay them out
        from compensation.engines.dask_engine import render_on_workers  # noqa: PLC0415 - the optional extra

        laid_out = ((rep_id, pdf, 0) for rep_id, pdf in render_on_workers(render_statement_batch, todo, templates,
                                                                           settings.scheduler))
    else:
        laid_out = render_pdfs(todo, workspace_templates=templates, workers=workers, progress=step)
    for rep_id, pdf, _pages in laid_out:
        written[rep_id] = _write(folder, rep_id, pdf)
        if store is not None:
            store.put(keys[rep_id], pdf)
    if store is not None and todo:
        store.prune()
    if stats is not None:
        stats.update(rendered=len(todo), reused=reused)
    return [written[r] for r in rep_ids if r in written]


def _write(folder: Path, rep_id: str, pdf: bytes) -> Path:
    path = statement_path(folder, rep_id)
    path.write_bytes(pdf)
    return path
