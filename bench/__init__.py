"""Benchmarks of Portrait Bot against the local Discord stand-in and the fake Wiro (127.0.0.1).

Run ``python -m bench`` (``--quick``, ``--json``, or one scenario: ``ack``, ``delivery``,
``calls``, ``load``, ``intake``). See bench/README.md for what each figure means.
"""
