"""Custom skills at the extension points of the base flow (PRODUCT §2, R-SKILL).

``base.py`` holds the contract every kind follows; ``declarative.py``, ``http.py``
and ``python.py`` the three kinds; ``loader.py`` turns a number's attachment into a
runnable skill; ``dispatch.py`` plugs them into the base flow's hooks. Nothing is
imported here, so ``base_flow.py`` may import ``skills.base`` without a cycle.
"""
