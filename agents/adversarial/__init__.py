"""Attacking policies and training them to resist: observation attacks (random, FGSM,
PGD on the policy's action distribution, critic-based), PGD-augmented adversarial
training, and RARL with a force-applying adversary."""
