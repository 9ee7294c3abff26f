"""The observation attacks' names, importable without torch (the CLI and experiment specs
check a name before anything heavy loads; ``attacks.py`` implements them)."""

ATTACKS = ("random", "fgsm", "pgd", "critic")
"""Uniform noise, FGSM and PGD on the policy's action distribution, PGD on the critic's value."""
