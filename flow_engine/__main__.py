from __future__ import annotations

from flow_engine.cli import main

raise SystemExit(main())
