"""The only URL fetcher statements use: the package's own assets, nothing from elsewhere.

A module of its own so that WeasyPrint is imported only when a statement is rendered.
"""

from __future__ import annotations

import mimetypes
import re
from pathlib import Path

from weasyprint.urls import URLFetcher, URLFetcherResponse, URLFetchingError

ASSETS_DIR = Path(__file__).resolve().parent / "assets"
ASSET_SCHEME = "icm-asset:"
SAFE_NAME_RE = re.compile(r"^[A-Za-z0-9._-]+$")


class AssetFetcher(URLFetcher):
    """WeasyPrint URL fetcher that serves only the package's assets; everything else is refused.

    Refused URLs are remembered in `refused` (tests and logs); WeasyPrint then renders
    without the resource. No opener is ever used: nothing leaves the process.
    """

    def __init__(self, assets_dir: Path = ASSETS_DIR):
        super().__init__(allowed_protocols=(), allow_redirects=False, fail_on_errors=False)
        self.assets_dir = assets_dir.resolve()
        self.refused: list[str] = []
        self._served: dict[str, tuple[bytes, str]] = {}

    def fetch(self, url: str, headers=None):
        """Serve an `icm-asset:` URL from the package's assets; refuse anything else."""
        if url not in self._served:
            path = self._asset(url)
            if path is None:
                self.refused.append(url)
                raise URLFetchingError(f"refused to fetch {url!r}: statements use only icm assets")
            mime = "font/ttf" if path.suffix == ".ttf" else (
                mimetypes.guess_type(path.name)[0] or "application/octet-stream")
            self._served[url] = (path.read_bytes(), mime)
        data, mime = self._served[url]
        return URLFetcherResponse(url, data, {"Content-Type": mime})

    def open(self, url, data=None, timeout=None):
        """Never use urllib's openers (file, http, ftp, data): only `fetch`."""
        return self.fetch(url.full_url if hasattr(url, "full_url") else url)

    def __call__(self, url: str):
        """WeasyPrint calls the fetcher itself; same as `fetch`."""
        return self.fetch(url)

    def _asset(self, url: str) -> Path | None:
        if not isinstance(url, str) or not url.startswith(ASSET_SCHEME):
            return None
        name = url[len(ASSET_SCHEME):].split("?")[0].split("#")[0].lstrip("/")
        parts = name.split("/")
        if not name or any(p in ("", ".", "..") or not SAFE_NAME_RE.match(p) for p in parts):
            return None
        path = (self.assets_dir / name).resolve()
        if not path.is_relative_to(self.assets_dir) or not path.is_file():
            return None
        return path
