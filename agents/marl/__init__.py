"""Multi-agent learners: independent (IPPO, IQL, SB3 per agent or group), joint-action
(joint PPO, joint Q, tabular JAL) and centralized-training / decentralized-execution
(MAPPO, MADDPG, QMIX, VDN), plus scripted heuristics that define normalized scores."""
