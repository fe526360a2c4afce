"""Fakes of third-party platforms (aiohttp servers on 127.0.0.1) for tests and local runs.

`python -m tests.fakes` starts all of them on fixed ports; see `__main__.py`.
"""
