"""The rollout core: a deployment's state machine, its two strategies, the agent fast path and the sweep.

docs/architecture.md ("The rollout core") says what each module does and traces one deployment.
"""
