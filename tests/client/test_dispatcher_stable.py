"""Item 14: dispatch_workers assigns a subscription to the same worker in every process."""

from __future__ import annotations

import json

from tests.subproc import run_python

_PROBE = """
import json, threading
from stomp_enterprise.client.dispatcher import Dispatcher

seen = {}
lock = threading.Lock()

def record(key):
    with lock:
        seen[key] = threading.current_thread().name

dispatcher = Dispatcher("d", workers=4)
for i in range(24):
    key = f"sub-{i}"
    dispatcher.submit(key, record, key)
assert dispatcher.drain(30)
dispatcher.stop(30)
print(json.dumps(seen, sort_keys=True))
"""


def _assignment(seed: str) -> dict[str, str]:
    return dict(json.loads(run_python(_PROBE, PYTHONHASHSEED=seed)))


def test_worker_assignment_does_not_depend_on_the_hash_seed() -> None:
    first, second = _assignment("1"), _assignment("2")
    assert len(first) == 24
    assert first == second
    assert len(set(first.values())) > 1  # the keys are spread over several workers
