"""A load generator for chinwag's text protocol: fan-out throughput, latency, loss.

Run it as ``python -m benchmarks`` (or ``chinwag bench``); see ``--help`` and
docs/performance.md. It lives outside ``src/`` because it is a tool for working
on chinwag, not part of what gets installed.
"""
