"""``python -m pepy_api [--host H] [--port P]``: serve the API with uvicorn.

The access log is ours (``pepy_api.observe``: method, path, status, latency, cache hit or miss),
so uvicorn's own is off. Proxy headers are believed from ``PEPY_FORWARDED_ALLOW_IPS`` only, and
request heads are bounded (``PEPY_MAX_HEADER_BYTES``).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys

import uvicorn

from pepy_api.http_limits import bounded_httptools
from pepy_api.settings import ApiSettings


def configure_logging(level: str) -> None:
    """pepy_api's own logs (the access log among them) to stderr with a timestamp."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("pepy_api")
    logger.addHandler(handler)
    logger.setLevel(level.upper())
    logger.propagate = False
    # The access log is on whatever the level of the rest (PEPY_ACCESS_LOG=false turns it off).
    logging.getLogger("pepy_api.access").setLevel(logging.INFO)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m pepy_api")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args()
    # A process started in the background may inherit ignored SIGINT/SIGTERM: restore them.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    settings = ApiSettings()
    configure_logging(args.log_level)
    uvicorn.run("pepy_api.main:create_app", factory=True, host=args.host, port=args.port,
                log_level=args.log_level, access_log=False,
                proxy_headers=True, forwarded_allow_ips=settings.forwarded_allow_ips,
                http=bounded_httptools(settings.max_header_bytes))


if __name__ == "__main__":
    main()
