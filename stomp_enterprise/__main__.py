"""``python -m stomp_enterprise``: the ``stomp-enterprise`` command line."""

from __future__ import annotations

import sys

from stomp_enterprise.cli import main

if __name__ == "__main__":
    sys.exit(main())
