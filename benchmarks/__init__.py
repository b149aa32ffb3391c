"""Benchmark scripts: each `bench_<area>.py` measures one target, prints its figures and saves them
as JSON under benchmarks/results/."""
