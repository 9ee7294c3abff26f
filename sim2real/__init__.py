"""Sim2real: measure and close the gap between training and target worlds.

- ``adapter``: the ``RealSystem`` protocol a real robot or external simulator
  implements, ``ScenarioSystem`` for proxy targets, and trajectory recording;
- ``transfer``: source return, target return and the gap, with CIs;
- ``sysid``: fit simulator parameters (masses, friction, damping, gains, action
  delay) to target trajectories, and randomization ranges centred on the fit;
- ``dropo``: fit a distribution of those parameters (DROPO-style likelihood,
  CMA-ES) to randomize over;
- ``adr``: automatic domain randomization around PPO.

"Real" proxies ship as ``sim2real/<Task>-real-v0`` scenarios (held-out masses
and friction, latency, deadband, sensor noise and bias) and
``sim2real/<Task>-real-dyn-v0`` (dynamics only).
"""
