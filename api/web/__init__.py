"""The web page at ``/``: plain HTML, CSS and JavaScript modules served from this package.

No build step and no asset from outside this server (no CDN, no web fonts): the page works
offline and every file it runs can be read in ``api/web/static/``. It calls the same REST API
as any other client, with the API key kept in the browser's session storage and sent as a
bearer header. ``PageHeaders`` gives the page and its assets a strict Content-Security-Policy.

Example::

    install_web(app)
    app.add_middleware(PageHeaders)
"""

from __future__ import annotations

from api.web.headers import PAGE_HEADERS, PageHeaders, is_page_path
from api.web.page import STATIC, install_web

__all__ = ["PAGE_HEADERS", "STATIC", "PageHeaders", "install_web", "is_page_path"]
