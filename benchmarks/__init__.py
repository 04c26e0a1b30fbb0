"""smsbridge's benchmark suite: ``python -m benchmarks`` (see docs/performance.md).

The ``bench_*.py`` scripts beside it are the older focused benchmarks, each runnable on its
own; the suite reuses some of their functions.
"""
