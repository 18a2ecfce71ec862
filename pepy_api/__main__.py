"""``python -m pepy_api [--host H] [--port P]``: serve the API with uvicorn."""

from __future__ import annotations

import argparse
import signal

import uvicorn


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m pepy_api")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args()
    # A process started in the background may inherit ignored SIGINT/SIGTERM: restore them.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    uvicorn.run("pepy_api.main:create_app", factory=True, host=args.host, port=args.port,
                log_level=args.log_level, access_log=False)


if __name__ == "__main__":
    main()
