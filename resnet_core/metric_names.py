"""The names of the metrics the trainer reports, without torch: sweep specs validate their metric against them."""

# The metrics run_epoch reports every epoch, besides `epoch` and one `grad_norm/block_i` per block (their
# number depends on depth). A sweep may search only these: Tune needs its metric in every report.
EPOCH_METRICS = ("train/loss", "train/acc", "train/error", "train/lr", "val/loss", "val/acc",
                 "grad_norm/ratio_first_last", "time/epoch_s", "throughput/img_per_s")
# Reported only on the last (or a diverged) epoch: the test split's accuracy, and the divergence flag.
FINAL_METRICS = ("test/acc", "train/diverged")
# Reported with the first epoch only: each block's gradient norm on the first batch, before any update.
INIT_PREFIX = "grad_norm_init/block_"
# Reported with the first epoch of an activation 'tat' run: the leaky slope TAT solved (TrainConfig.tat_alpha).
TAT_ALPHA = "model/tat_alpha"
