"""Which brokers a test session started, and stopping exactly those at its end.

``integration/conftest.py`` starts a selected broker that does not answer (``start.sh``); before
this module the brokers it started kept running after the session. Now:

* a broker that answered before the session is *kept* (someone else started it: a developer, a
  previous session, ``.ci/run``; CI starts all four first, so CI stops nothing here and its own
  ``trap`` stops them as before);
* a broker this session started is *stopped* at the end (``stop.sh``, which signals only the PID
  its start recorded), unless ``--keep-brokers`` (or ``STOMP_INTEGRATION_KEEP_BROKERS=1``) asks
  to keep them for the next run;
* the terminal summary ends with one line per broker: what was done, what is left running and
  the command that stops it.

The decisions are plain code over two callables (is it answering; run a script), so
``tests/test_integration_lifecycle.py`` checks them without a broker.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["SessionBrokers", "stop_command"]


def stop_command(name: str) -> str:
    """The command that stops a broker started by ``integration/brokers/start.sh``."""
    return f"bash integration/brokers/stop.sh {name}"


@dataclass
class SessionBrokers:
    """The brokers of one test session: which answered at the start, which it started.

    Args:
        answering: ``answering(name)`` is True when the broker's STOMP port answers.
        run_script: ``run_script(script, name)`` runs ``start.sh``/``stop.sh`` for one broker and
            raises (``RuntimeError``/``OSError``) when it fails.
    """

    answering: Callable[[str], bool]
    run_script: Callable[[str, str], None]
    found_running: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)
    stop_failures: dict[str, str] = field(default_factory=dict)

    def ensure(self, name: str, *, may_start: bool) -> str | None:
        """Make ``name`` answer: None when it does, else why it does not.

        A broker answering already is recorded as found running (never stopped by us); one
        started here is recorded as started, even when its start then fails half-way (its
        process may be up: the end of the session still stops it).
        """
        if self.answering(name):
            self.found_running.append(name)
            return None
        if not may_start:
            return "nothing answers"
        self.started.append(name)
        try:
            self.run_script("start.sh", name)
        except (RuntimeError, OSError) as exc:
            return f"not running and start.sh failed: {exc}"
        return None

    def finish(self, *, keep: bool) -> None:
        """Stop what this session started (nothing when ``keep``). A failed stop is recorded
        and reported, never raised: the tests' outcome stands."""
        if keep:
            return
        for name in reversed(self.started):
            try:
                self.run_script("stop.sh", name)
            except (RuntimeError, OSError) as exc:
                self.stop_failures[name] = str(exc)
            else:
                self.stopped.append(name)

    def summary(self, *, keep: bool) -> list[str]:
        """One line per broker this session knew: stopped, or left running and how to stop it."""
        lines: list[str] = []
        for name in self.found_running:
            if name in self.started:
                continue
            running = "still running" if self.answering(name) else "no longer answering"
            lines.append(
                f"{name}: was running before this session, kept ({running}); "
                f"stop it with: {stop_command(name)}"
            )
        for name in self.started:
            if name in self.stopped:
                lines.append(f"{name}: started by this session, stopped")
            elif name in self.stop_failures:
                lines.append(
                    f"{name}: started by this session, stop FAILED "
                    f"({self.stop_failures[name][-200:]}); stop it with: {stop_command(name)}"
                )
            elif keep and self.answering(name):
                lines.append(
                    f"{name}: started by this session, left running (--keep-brokers); "
                    f"stop it with: {stop_command(name)}"
                )
            elif keep:
                lines.append(f"{name}: started by this session, not answering any more")
        return lines
