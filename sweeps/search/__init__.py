"""The search room: arms and confirm planning (pure), the search space, samplers, searchers and schedulers."""
