"""Mutation check of the failure paths: apply one-line mutants, run the tests meant to kill
them, print killed/survived.

Run from the repository root (it edits files in place and always restores them)::

    python tools/mutants.py            # every mutant
    python tools/mutants.py -k receipt # those whose name contains "receipt"

A mutant of ``_speedups.c`` rebuilds the C accelerator (``setup.py build_ext --inplace``)
before its tests and again after restoring the source. Each mutant's tests run in a fresh
``pytest -x`` subprocess with a time limit; a test run that fails (or times out) kills it.
The script exits non-zero when a mutant survives or does not apply (its text changed).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import subprocess
import sys
import time
from typing import NamedTuple

ROOT = pathlib.Path(__file__).resolve().parent.parent
PKG = "stomp_enterprise"


class Mutant(NamedTuple):
    name: str
    path: str  # relative to the repository root
    old: str  # must occur exactly ``occurrence + 1`` times or more; the n-th is replaced
    new: str
    tests: tuple[str, ...]
    occurrence: int = 0


# the failure paths shared by both clients run in tests/parity (one body, both clients);
# the threaded-only ones (send_async) stay in tests/client
FAILURE_PATHS = "tests/client/test_failure_paths.py tests/parity/test_failure_paths.py"
PARSER_LIMITS = "tests/protocol/test_parser_limits.py"
TRANSPORT_FAILURES = "tests/transport/test_transport_failures.py"

MUTANTS: list[Mutant] = [
    # --- the mutants ---------------------------------------------------------------
    Mutant(
        "parser: frame-size limit off by one (content-length body)",
        f"{PKG}/protocol/parser.py",
        "if stop - pos > self.max_frame_size:",
        "if stop - pos >= self.max_frame_size:",
        (PARSER_LIMITS,),
    ),
    Mutant(
        "parser: frame-size limit off by one (NUL-terminated body)",
        f"{PKG}/protocol/parser.py",
        "if stop - pos > self.max_frame_size:",
        "if stop - pos >= self.max_frame_size:",
        (PARSER_LIMITS,),
        occurrence=1,
    ),
    Mutant(
        "parser: frame-size limit off by one (incomplete frame held)",
        f"{PKG}/protocol/parser.py",
        "if size > self.max_frame_size:",
        "if size >= self.max_frame_size:",
        (PARSER_LIMITS,),
    ),
    Mutant(
        "C accelerator: frame-size limit off by one (content-length body)",
        f"{PKG}/protocol/_speedups.c",
        "if (stop - pos > max_frame || stop >= end",
        "if (stop - pos >= max_frame || stop >= end",
        (PARSER_LIMITS,),
    ),
    Mutant(
        "C accelerator: frame-size limit off by one (NUL-terminated body)",
        f"{PKG}/protocol/_speedups.c",
        "if (stop - pos > max_frame) {",
        "if (stop - pos >= max_frame) {",
        (PARSER_LIMITS,),
    ),
    Mutant(
        "connection: a timed-out receipt stays in the pending map",
        f"{PKG}/client/connection.py",
        "                        del self._receipts[key]\n",
        "                        pass\n",
        (FAILURE_PATHS,),
    ),
    Mutant(
        "client: an unsubscribe while disconnected is replayed on reconnect",
        f"{PKG}/client/client.py",
        "with self._lock:  # not connected: just make sure it is not replayed\n"
        "            self._session.subscriptions.pop(sub.id, None)",
        "with self._lock:  # not connected: just make sure it is not replayed\n            pass",
        (FAILURE_PATHS,),
    ),
    Mutant(
        "connection: close() leaves pending futures unresolved",
        f"{PKG}/client/connection.py",
        'future.set_exception(ConnectionLost(f"connection to {self.url} closed"))',
        "pass",
        (FAILURE_PATHS,),
    ),
    # --- ten more in client/ and transport/ ---------------------------------------------------
    Mutant(
        "connection: a loss leaves pending receipts unresolved",
        f"{PKG}/client/connection.py",
        "                future.set_exception(lost)\n",
        "                pass\n",
        (FAILURE_PATHS,),
    ),
    Mutant(
        "connection: ack of a message whose connection is lost is not refused",
        f"{PKG}/client/connection.py",
        "        if not self.alive:\n            raise AckError(",
        "        if False:\n            raise AckError(",
        (FAILURE_PATHS,),
    ),
    Mutant(
        "transaction: a transaction is not failed when its connection is lost",
        f"{PKG}/client/transaction.py",
        '        if not connection.alive:\n            self._state = "failed"',
        '        if False:\n            self._state = "failed"',
        (FAILURE_PATHS,),
    ),
    Mutant(
        "client: ConnectFailed does not record the broker tried",
        f"{PKG}/client/client.py",
        "attempts.tried.append((attempt.broker.url, exc))",
        "pass",
        (FAILURE_PATHS,),
    ),
    Mutant(
        "client: pending_receipts always reports 0",
        f"{PKG}/client/client.py",
        "return 0 if connection is None else len(connection._receipts)",
        "return 0",
        (FAILURE_PATHS,),
    ),
    Mutant(
        "message: an unencodable body escapes as UnicodeEncodeError",
        f"{PKG}/client/message.py",
        "    except (LookupError, ValueError) as exc:  # ValueError: UnicodeEncodeError",
        "    except LookupError as exc:  # ValueError: UnicodeEncodeError",
        ("tests/client/test_encoding.py",),
    ),
    Mutant(
        "dispatcher: worker picked by the per-process str hash",
        f"{PKG}/client/dispatcher.py",
        "queues[zlib.crc32(key.encode()) % len(queues)]",
        "queues[hash(key) % len(queues)]",
        ("tests/client/test_dispatcher_stable.py",),
    ),
    Mutant(
        "transport: back-pressure wait never times out",
        f"{PKG}/transport/socket.py",
        "                if remaining <= 0:\n                    raise ConnectionLost(",
        "                if remaining <= -1e9:\n                    raise ConnectionLost(",
        (TRANSPORT_FAILURES, FAILURE_PATHS),
    ),
    Mutant(
        "transport: a failed write does not report the loss",
        f"{PKG}/transport/socket.py",
        "            if first and not self._closed and self._on_error is not None:",
        "            if False:",
        (FAILURE_PATHS, TRANSPORT_FAILURES),
    ),
    Mutant(
        "transport: frames queued after close are accepted",
        f"{PKG}/transport/socket.py",
        '            if self._closed:\n                raise ConnectionLost(f"connection to '
        '{self.address.url} is closed")\n            if gate',
        '            if False:\n                raise ConnectionLost(f"connection to '
        '{self.address.url} is closed")\n            if gate',
        (TRANSPORT_FAILURES, FAILURE_PATHS),
    ),
]


def _rebuild() -> None:
    subprocess.run(
        [sys.executable, "setup.py", "build_ext", "--inplace", "--force", "-q"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )


def _apply(mutant: Mutant) -> str | None:
    """Write the mutant; return the original text (None when the mutant does not apply)."""
    path = ROOT / mutant.path
    original = path.read_text()
    at = -1
    for _ in range(mutant.occurrence + 1):
        at = original.find(mutant.old, at + 1)
        if at < 0:
            return None
    path.write_text(original[:at] + mutant.new + original[at + len(mutant.old) :])
    return original


def _paths(tests: tuple[str, ...]) -> list[str]:
    """The test paths of a mutant (an entry may name several, separated by spaces)."""
    return [path for entry in tests for path in entry.split()]


def run(mutant: Mutant, timeout: float) -> str:
    """'killed', 'SURVIVED' or 'NOT APPLIED' (with the time taken)."""
    original = _apply(mutant)
    if original is None:
        return "NOT APPLIED"
    native = mutant.path.endswith(".c")
    try:
        if native:
            _rebuild()
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        try:
            result = subprocess.run(  # noqa: S603 - our own interpreter and test paths
                [
                    sys.executable,
                    "-m",
                    "pytest",
                    "-x",
                    "-q",
                    "-p",
                    "no:randomly",
                    *_paths(mutant.tests),
                ],
                cwd=ROOT,
                env=env,
                capture_output=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return "killed (timeout)"
        return "killed" if result.returncode != 0 else "SURVIVED"
    finally:
        (ROOT / mutant.path).write_text(original)
        if native:
            _rebuild()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", default="", help="only mutants whose name contains this")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per mutant")
    args = parser.parse_args(argv)
    chosen = [m for m in MUTANTS if args.k.lower() in m.name.lower()]
    bad = 0
    print(f"{'result':<18} {'time':>6}  mutant")
    for mutant in chosen:
        started = time.monotonic()
        outcome = run(mutant, args.timeout)
        bad += not outcome.startswith("killed")
        print(f"{outcome:<18} {time.monotonic() - started:5.1f}s  {mutant.name}", flush=True)
    print(f"{len(chosen) - bad} of {len(chosen)} killed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
