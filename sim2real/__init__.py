"""Sim2real: real-proxy targets, the real-system adapter protocol, system
identification, ADR and transfer evaluation, built on ``scenarios``, ``agents``
and ``testbed``. Its modules arrive with the sim2real issue; this package
reserves the name so the layout matches the design."""
