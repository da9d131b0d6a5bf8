"""Plain helper functions and data shared by the tests, one module per kind of thing.

No fixtures here: pytest fixtures live in ``conftest.py`` files (``tests/conftest.py``
for those several stages use, ``tests/<stage>/conftest.py`` for one stage's own),
and test modules never import them.
"""
