"""Administration: who may do what (profiles × numbers × members) and how number
configurations change (versions, bulk, replicate, templates). No HTTP here: the routes
are in ``web/api/``."""
