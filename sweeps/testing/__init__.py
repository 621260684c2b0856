"""Real services on free ports for the tests and benchmarks (as ray.cluster_utils is for Ray's own tests).

ports: free TCP ports. procs: log tails, process groups, polling. postgres: throwaway databases.
mlflow_server: a plain `mlflow server`. mlflow_auth: a basic-auth one on PostgreSQL. ray_cluster: Ray nodes.
topology: Ray + MLflow together, with Ray Jobs. runs: what a sweep left in MLflow and in Tune's folders.
Nothing in resnet_core, sweeps or dashboards imports this package; it lives here to be importable without
putting tests/ on sys.path.
"""
