"""Benchmarks and baselines: the s1 reference procedure, accuracy curves, speed ratios."""
