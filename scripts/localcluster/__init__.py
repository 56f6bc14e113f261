"""A real single-node Kubernetes on this machine, built from pinned Go modules, run as processes.

`python -m scripts.localcluster up` builds (once, cached by version) and starts etcd, the control
plane, a kubelet on containerd and kube-proxy, then CoreDNS and metrics-server in the cluster and
the project's images imported into containerd. On a running cluster `up` restarts only the
processes whose binary a rebuild replaced; `down` removes everything `up` made.
"""
