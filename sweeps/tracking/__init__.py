"""The tracking room: the MLflow vocabulary (names), the exactly-once tracker and its ordered sender, run
descriptions, reading runs back (runs), the best-run rule, links into the UI, and closing a sweep (finalize).

Names load on first use: `sweeps.tracking.runs` and `names` import no Ray, so `dashboards` builds on them.
"""

from resnet_core.lazy import lazy_getattr

# Tune pickled the tracker as sweeps.tracking.MlflowTracker before this folder existed: that path still resolves.
_HOME = {"MlflowTracker": "tracker", "TrimKeptResults": "tracker", "Sender": "sender"}

__all__ = list(_HOME)
__getattr__ = lazy_getattr(__name__, _HOME)
