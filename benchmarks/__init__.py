"""Benchmark harness for istv: `python -m benchmarks.run --size tiny|city|region|national`."""
