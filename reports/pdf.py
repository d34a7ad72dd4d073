"""Statement PDFs: the WeasyPrint sandbox, the batch renderer, its process pool and cache.

Security: templates (the package's and a workspace's `templates/` overrides) are rendered
in a sandbox with autoescape forced on (`{% autoescape %}` blocks are refused, `|safe`
marks nothing safe); every template path is resolved and one that leaves its folder
(`../`, a symlink to `/etc/hostname`) is refused; the URL fetcher serves only the
package's own assets (`icm-asset:` URLs) and refuses `file:`, `http(s):`, `data:` and
everything else.

Speed: a batch of statements is laid out as ONE WeasyPrint document (one style cascade,
one font subsetting), split per rep with pypdf; batches are spread over worker
processes. A statement whose content is unchanged since an earlier render is taken from
the cache (`out/.statement-cache/<sha256>.pdf`, keyed by content, templates, fonts and
renderer version) instead of being laid out again.
"""

from __future__ import annotations

import atexit
import copy
import hashlib
import json
import math
import os
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_all_start_methods, get_context
from pathlib import Path

from jinja2 import ChoiceLoader, FileSystemLoader, TemplateError, TemplateNotFound, TemplateSyntaxError, nodes
from jinja2.ext import Extension
from jinja2.lexer import TOKEN_BLOCK_BEGIN, TOKEN_NAME, Token, TokenStream
from jinja2.sandbox import ImmutableSandboxedEnvironment

from compensation.errors import IcmError
from reports.statement_content import Statement

PACKAGE_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = PACKAGE_DIR / "templates"
ASSETS_DIR = PACKAGE_DIR / "assets"
BATCH_SIZE = 50
RENDERER_VERSION = "statements-3"  # bump when the renderer changes what a PDF looks like
CACHE_FOLDER = ".statement-cache"
CACHE_DAYS = 60  # cache entries unused this long are removed after a render


# ---------------------------------------------------------------- assets


# ---------------------------------------------------------------- templates


def confined(folder: Path, name: str) -> Path | None:
    """`folder/name` fully resolved, None when missing; an IcmError when it leaves `folder`.

    A workspace's `templates/` is untrusted: a symlink inside it (or `../` in an include)
    must not let a template read `/etc/hostname` into a rep's PDF.
    """
    root = folder.resolve()
    path = (folder / name).resolve()
    if not path.is_relative_to(root):
        raise IcmError(f"{folder / name}: template path leaves the templates folder {folder} (it resolves to "
                       f"{path}); statement templates must be files inside that folder, not links out of it")
    return path if path.is_file() else None


class ConfinedLoader(FileSystemLoader):
    """A FileSystemLoader that refuses any template whose resolved path leaves its folder."""

    def __init__(self, folder: Path):
        super().__init__(str(folder))
        self.folder = Path(folder)

    def get_source(self, environment, template):
        if "\\" in template or template.startswith("/"):
            raise IcmError(f"template name {template!r} is not a relative path inside {self.folder}; "
                           "include templates by their name in the templates folder")
        path = confined(self.folder, template)
        if path is None:
            raise TemplateNotFound(template)
        text = path.read_text(encoding="utf-8")
        mtime = path.stat().st_mtime
        return text, str(self.folder / template), lambda: path.is_file() and path.stat().st_mtime == mtime


class _NoAutoescapeBlocks(Extension):
    """Refuse `{% autoescape ... %}` so no template can turn escaping off."""

    def filter_stream(self, stream: TokenStream) -> Iterator[Token]:
        previous = None
        for token in stream:
            if (previous is not None and previous.type == TOKEN_BLOCK_BEGIN
                    and token.type == TOKEN_NAME and token.value == "autoescape"):
                raise TemplateSyntaxError("templates may not use {% autoescape %}: statements "
                                          "are always escaped", token.lineno, stream.name,
                                          stream.filename)
            previous = token
            yield token

    def parse(self, parser) -> nodes.Node:  # pragma: no cover - registers no tags
        raise NotImplementedError


def template_environment(workspace_templates: Path | None = None) -> ImmutableSandboxedEnvironment:
    """Sandboxed jinja2 environment, autoescape on for every template incl. overrides."""
    loaders = []
    if workspace_templates is not None and Path(workspace_templates).is_dir():
        loaders.append(ConfinedLoader(Path(workspace_templates)))
    loaders.append(ConfinedLoader(TEMPLATES_DIR))
    env = ImmutableSandboxedEnvironment(loader=ChoiceLoader(loaders), autoescape=True,
                                        extensions=[_NoAutoescapeBlocks])
    env.filters["safe"] = lambda value: value  # data stays escaped whatever a template says
    return env


def stylesheet_text(workspace_templates: Path | None = None) -> str:
    """The workspace's `templates/statement.css` if present (inside the folder), else the package's."""
    if workspace_templates is not None and Path(workspace_templates).is_dir():
        override = confined(Path(workspace_templates), "statement.css")
        if override is not None:
            return override.read_text(encoding="utf-8")
    return (TEMPLATES_DIR / "statement.css").read_text(encoding="utf-8")


def _template(env: ImmutableSandboxedEnvironment, name: str):
    """Load a template; a syntax error is bad input (`file:line: message`), not a crash."""
    try:
        return env.get_template(name)
    except TemplateSyntaxError as err:
        raise IcmError.at(err.filename or name, err.lineno, err.message or str(err)) from None


# ---------------------------------------------------------------- rendering


class _Engine:
    """Per-process rendering state: templates, parsed CSS, fonts, fetcher (built once)."""

    def __init__(self, workspace_templates: Path | None):
        from weasyprint import CSS
        from weasyprint.text.fonts import FontConfiguration

        self.env = template_environment(workspace_templates)
        from reports.pdf_assets import AssetFetcher  # WeasyPrint loads only when a statement is rendered

        self.fetcher = AssetFetcher(ASSETS_DIR)
        self.font_config = FontConfiguration()
        self.css = CSS(string=stylesheet_text(workspace_templates), url_fetcher=self.fetcher,
                       font_config=self.font_config)
        self.document = _template(self.env, "document.html")
        _template(self.env, "statement.html")  # report a broken override before rendering

    def html(self, statements: list[Statement]) -> str:
        try:
            return self.document.render(statements=statements, title="icm statements")
        except TemplateError as err:
            raise IcmError.at(getattr(err, "filename", None) or "templates",
                              getattr(err, "lineno", None),
                              f"statement template failed: {err}") from None

    def render_batch(self, statements: list[Statement]) -> list[tuple[str, bytes, int]]:
        """Lay the batch out as one document, write each statement's pages: (rep_id, pdf, pages).

        One layout (one HTML parse, one style cascade) for the batch; each statement's
        pages are then written on their own, which costs no more than one write of the
        whole batch and saves re-reading it to split it.
        """
        from weasyprint import HTML

        document = HTML(string=self.html(statements), url_fetcher=self.fetcher).render(
            stylesheets=[self.css], font_config=self.font_config)
        starts: dict[int, int] = {}
        for number, page in enumerate(document.pages):
            for anchor in page.anchors:
                if anchor.startswith("statement-"):
                    starts.setdefault(int(anchor.removeprefix("statement-")), number)
        if len(starts) != len(statements):
            raise IcmError("templates/document.html: every statement needs its section with "
                           "id=\"statement-N\" (as in the package's document.html); restore that id")
        bounds = [starts[i] for i in range(len(statements))] + [len(document.pages)]
        out = []
        for i, statement in enumerate(statements):
            part = document.copy(document.pages[bounds[i]:bounds[i + 1]])
            part.metadata = copy.copy(document.metadata)  # copies share it otherwise
            part.metadata.title = statement.title
            part.metadata.generator = "icm"
            out.append((statement.rep_id, part.write_pdf(), bounds[i + 1] - bounds[i]))
        return out


_ENGINES: dict[tuple[int, str], _Engine] = {}
atexit.register(_ENGINES.clear)  # drop fontconfig handles before the interpreter tears down


def _engine(workspace_templates: Path | None) -> _Engine:
    key = (os.getpid(), str(workspace_templates))
    if key not in _ENGINES:
        _ENGINES[key] = _Engine(workspace_templates)
    return _ENGINES[key]


def render_statement_batch(statements: list[Statement],
                           workspace_templates: Path | None) -> list[tuple[str, bytes]]:
    """Render statements to PDFs in this process: [(rep_id, pdf bytes)], in input order.

    Pure and picklable (a top-level function of picklable arguments): map it over
    process-pool or Dask workers; each worker builds its WeasyPrint state once.
    """
    return [(rep_id, pdf) for rep_id, pdf, _pages in _engine(workspace_templates).render_batch(statements)]


def _render_batch(statements: list[Statement], workspace_templates: Path | None):
    """Render one batch in this process; also returns the CPU seconds it took."""
    start = time.process_time()
    items = _engine(workspace_templates).render_batch(statements)
    return items, time.process_time() - start


def _pool_context():
    """Workers start from a clean fork server with this module preloaded.

    Plain fork would copy the caller's threads' locks (Rich's refresh thread, loggers,
    database pools); spawn would re-import WeasyPrint in every worker.
    """
    if "forkserver" in get_all_start_methods():
        context = get_context("forkserver")
        context.set_forkserver_preload(["reports.pdf"])
        return context
    return get_context("spawn")


def _chunks(items: Iterable[Statement], size: int) -> Iterator[list[Statement]]:
    chunk: list[Statement] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def render_pdfs(statements: Iterable[Statement], *, total: int | None = None,
                workspace_templates: Path | None = None, workers: int | None = None,
                batch_size: int = BATCH_SIZE,
                progress: Callable[[int, int], None] | None = None,
                stats: dict | None = None) -> Iterator[tuple[str, bytes, int]]:
    """Yield (rep_id, pdf bytes, pages) per statement; batches are spread over processes.

    `statements` may be a generator (give `total`): batches go to the workers as soon as
    they are built, so building contexts overlaps with rendering. `stats["cpu"]` (when
    given) adds up the CPU seconds the batches took in whichever process ran them.
    """
    stats = stats if stats is not None else {}
    stats.setdefault("cpu", 0.0)
    if total is None:
        statements = list(statements)
        total = len(statements)
    if not total:
        return
    workers = workers or min(os.cpu_count() or 1, 8)
    # Even batches, at least one per worker, each no bigger than batch_size.
    count = max(math.ceil(total / batch_size), min(workers, math.ceil(total / 8)))
    batches = _chunks(statements, math.ceil(total / count))
    done = 0
    if progress:
        progress(0, total)
    if workers <= 1 or count == 1:
        for batch in batches:
            items, cpu = _render_batch(batch, workspace_templates)
            stats["cpu"] += cpu
            for item in items:
                done += 1
                yield item
            if progress:
                progress(done, total)
        return
    stats["pool"] = True
    with ProcessPoolExecutor(max_workers=min(workers, count), mp_context=_pool_context()) as pool:
        futures = [pool.submit(_render_batch, batch, workspace_templates) for batch in batches]
        for future in as_completed(futures):
            items, cpu = future.result()
            stats["cpu"] += cpu
            for item in items:
                done += 1
                yield item
            if progress:
                progress(done, total)


# ---------------------------------------------------------------- cache


def renderer_digest(workspace_templates: Path | None) -> str:
    """sha256 of everything besides content that shapes a PDF: templates, CSS, fonts, versions."""
    import weasyprint

    digest = hashlib.sha256(f"{RENDERER_VERSION}\0{weasyprint.__version__}\0".encode())
    folders = [TEMPLATES_DIR, ASSETS_DIR]
    if workspace_templates is not None and Path(workspace_templates).is_dir():
        folders.insert(0, Path(workspace_templates))
    for folder in folders:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            digest.update(f"{folder.name}/{path.relative_to(folder)}\0".encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def content_key(statement: Statement, renderer: str) -> str:
    """The cache key of one statement: its content and the renderer's digest."""
    body = json.dumps([renderer, statement.rep_id, statement.locale, statement.title, statement.context],
                      sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


class StatementCache:
    """PDFs by content key in `folder` (`out/.statement-cache/`): the product's one cache.

    An entry is a finished PDF named by the sha256 of what it shows; a hit refreshes its
    time, and `prune` removes entries unused for CACHE_DAYS. Entries are written under a
    temporary name and renamed, so a reader never sees half a PDF.
    """

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def get(self, key: str) -> bytes | None:
        path = self.folder / f"{key}.pdf"
        try:
            data = path.read_bytes()
        except OSError:
            return None
        try:
            os.utime(path)
        except OSError:
            pass
        return data if data.startswith(b"%PDF") else None

    def put(self, key: str, pdf: bytes) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            partial = self.folder / f".{key}.{os.getpid()}.part"
            partial.write_bytes(pdf)
            os.replace(partial, self.folder / f"{key}.pdf")
        except OSError:
            pass  # a cache that cannot be written only costs time

    def prune(self, days: int = CACHE_DAYS) -> int:
        """Remove entries unused for `days`; returns how many."""
        if not self.folder.is_dir():
            return 0
        cutoff = time.time() - days * 86400
        removed = 0
        for path in self.folder.iterdir():
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except OSError:
                pass
        return removed
