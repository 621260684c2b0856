"""Ray Tune + Optuna + MLflow glue around resnet_core, the sweep specs and the resnet-sweep command line."""
