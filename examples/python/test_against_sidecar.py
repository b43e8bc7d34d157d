"""A driver of nagent_sidecar.py for tests (test/sdk-python.test.ts) against a real sidecar.

    python3 test_against_sidecar.py URL TOKEN get KEY
    python3 test_against_sidecar.py URL TOKEN list PREFIX
    python3 test_against_sidecar.py URL TOKEN watch PREFIX COUNT     # prints events as they come, stops after COUNT
    python3 test_against_sidecar.py URL TOKEN invoke DOMAIN PATH [JSON_BODY]
    python3 test_against_sidecar.py URL TOKEN raise DOMAIN PATH      # lets a typed error escape: its traceback
    python3 test_against_sidecar.py URL TOKEN invoke-twice DOMAIN PATH  # two calls in a row, with connect_retry=5

TOKEN may be "-" for none. Each answer is one JSON line on stdout.
"""

from __future__ import annotations

import json
import sys
from typing import Any, List

from nagent_sidecar import NagentError, SidecarClient


def say(value: Any) -> None:
    """Prints one JSON line and flushes it, so that the test sees it at once."""
    print(json.dumps(value), flush=True)


def main(argv: List[str]) -> int:
    """Runs one command against the sidecar at argv[0]."""
    url, token, command, *rest = argv
    client = SidecarClient(url, None if token == "-" else token, timeout=5.0, invoke_timeout=10.0)
    if command == "get":
        say({"value": client.get_config(rest[0]), "default": client.get_config(rest[0] + "-absent", default="fallback")})
    elif command == "list":
        say({"items": client.list_config(rest[0])})
    elif command == "watch":
        prefix, count = rest[0], int(rest[1])
        seen = 0
        errors = lambda error: say({"retrying": error.code})  # noqa: E731
        for event in client.watch_config(prefix, backoff=(0.05, 0.2), on_error=errors):
            say({"type": event.type, "key": event.key, "value": event.value, "revision": event.revision, "resumed": event.resumed})
            seen += 1
            if seen >= count:
                break
    elif command == "invoke":
        body = json.loads(rest[2]) if len(rest) > 2 else None
        try:
            answer = client.invoke(rest[0], rest[1], body)
            say({"status": answer.status, "fallback": answer.fallback, "data": answer.json()})
        except NagentError as error:
            say({"error": type(error).__name__, "status": error.status, "code": error.code, "message": error.message, "details": error.details})
    elif command == "invoke-twice":
        # Across a sidecar restart: the second call is due as the first answer's sidecar drains.
        retrying = SidecarClient(url, None if token == "-" else token, timeout=5.0, invoke_timeout=10.0, connect_retry=5.0)
        for body in ({"n": 1}, {"n": 2}):
            answer = retrying.invoke(rest[0], rest[1], body)
            say({"status": answer.status, "data": answer.json()})
    elif command == "raise":
        client.invoke(rest[0], rest[1])
    else:
        print(f"unknown command {command!r}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
