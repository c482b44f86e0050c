"""Reference docs generated from code, so they cannot drift (STYLE.md 11).

``python -m bastion.docgen`` rewrites the generated files under docs/; a test fails when
a committed file differs from what the code generates.
"""
