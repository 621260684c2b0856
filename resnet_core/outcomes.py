"""How a trial ends, named once for the sweeps that tag runs and the dashboards that count them.

Kept in resnet_core, the one package both import, and free of imports so that reading it costs nothing:
`diverged` is the trainer's own verdict (a blown-up training loss); the others say whether training ran
all its epochs (`completed`), was stopped early by the scheduler or the time budget (`pruned`), or raised.
"""

OUTCOMES = ("completed", "pruned", "diverged", "errored")
