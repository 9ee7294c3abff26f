"""The observation attacks' names, importable without torch (the CLI and experiment specs
check a name before anything heavy loads; ``attacks.py`` implements them)."""

ATTACKS = ("random", "fgsm", "pgd", "mad", "critic", "robust_sarsa", "learned")
"""Uniform noise; FGSM, PGD and MAD (SGLD) on the policy's action distribution; PGD on the
victim's critic; PGD on a fitted robust Sarsa critic; an RL-trained perturber."""
ALL = "all"
"""Every attack that applies to the victim, and the worst of them per budget."""
MAX_EPS = 1e6
"""The largest budget, in observation standard deviations: far past any meaningful attack, and small
enough that the perturbed observations stay finite in float32 (an eps of 1e300 made the victim's
logits NaN, a torch traceback)."""
TRAIN_STEPS = {"robust_sarsa": 20_000, "learned": 50_000}
"""Attacks that fit a model of their own first, and the environment steps they use unless told
(robust Sarsa: victim roll-outs the critic is fitted on; learned: the adversary's PPO training)."""


def expand(kind: str) -> list[str]:
    """The attacks ``kind`` names: itself, or every attack for ``all``.

    >>> expand("pgd")
    ['pgd']
    >>> len(expand("all")) == len(ATTACKS)
    True
    """
    return list(ATTACKS) if kind == ALL else [kind]
