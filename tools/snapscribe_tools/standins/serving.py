"""What every stand-in does with its server: serve on a thread of its own (tests, the bench), or in the foreground
until Ctrl-C (`python -m snapscribe_tools.standins.<service>`)."""

from __future__ import annotations

import threading
from http.server import ThreadingHTTPServer


def in_thread(server: ThreadingHTTPServer, name: str) -> str:
    """Serve on a daemon thread; the server's URL. A short poll: shutdown() waits for the loop to look."""
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=name, daemon=True).start()
    return url_of(server)


def url_of(server: ThreadingHTTPServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host!s}:{port}"


def until_interrupted(server: ThreadingHTTPServer, banner: str) -> None:
    """Serve in the foreground, `banner` printed first (with the URL in place of {url}), until Ctrl-C."""
    print(banner.format(url=url_of(server)), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
