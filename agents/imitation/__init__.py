"""Learning from demonstrations: datasets (record, save, load, export to Minari),
behavioural cloning, DAgger, GAIL and AIRL. Ours because the ``imitation`` library
cannot be installed with Gymnasium 1.x and SB3 2.9."""
