"""A real single-node Kubernetes on this machine, built from pinned Go modules, run as processes.

`python -m scripts.localcluster up` builds (once, cached by version) and starts a CNCF
Distribution registry, etcd, the control plane, a kubelet on containerd and kube-proxy, then
CoreDNS, metrics-server and the local-path provisioner (the default StorageClass) in the
cluster, and publishes the project's release (every image and the chart, `python -m
scripts.release`) into the registry. On a running cluster `up` restarts only the processes
whose binary or config changed; `down` removes everything `up` made.
"""
