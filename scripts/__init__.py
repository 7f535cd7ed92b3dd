"""Operator tooling: synthesis, synth diffs, plan comments, bootstrap."""
