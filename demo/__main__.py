"""``python -m demo`` (``make demo``): the week replayed with Airflow; see :mod:`demo.week`."""

from demo.week import main

raise SystemExit(main())
