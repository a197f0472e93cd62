"""``flow-engine admin …``: the admin API (``/api/v1``) from a terminal or a CI job.

:mod:`~flow_engine.admin_cli.client` is a small typed HTTP client of the API,
:mod:`~flow_engine.admin_cli.commands` the sub-commands, :mod:`~flow_engine.admin_cli.diff`
the readable ``path: before → after`` diffs and :mod:`~flow_engine.admin_cli.ui` the
terminal side (tables, confirmation, progress bars). See docs/admin-cli.md.
"""
