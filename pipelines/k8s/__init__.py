"""Kubernetes settings kept as data: executor.yaml configures the k8s executor (ISTV_EXECUTOR=k8s)."""
