"""Simulation, a neural-network baseline and out-of-sample method comparison: the
paper's experiments, built on the public models."""
