"""The desk (R-DESK-2): what an attendant does with tickets, without HTTP.

``service.py`` holds the use cases; the routes of ``web/api/desk.py`` parse, check the
caller's permission and call them.
"""
