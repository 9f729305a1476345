"""``python -m autobench`` is the ``autobench`` command."""

from autobench.cli import main

raise SystemExit(main())
