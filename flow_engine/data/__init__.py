"""Data (R-DATA): live metrics of service, notifications, surveys and message volume per
number and period, from the rollups of ``storage/rollups.py``.

``service.py`` holds the reports; ``query.py`` reads and checks their parameters;
``export.py`` renders a report's series as CSV. The routes of ``web/api/data.py`` and the
``flow-engine admin data`` commands call them.
"""
