"""corebound's tools, one room each, run from the repository root: `python -m scripts.<room>`.

capacity (plan pods and HPA), bench (serving patterns side by side), cluster_loadtest (the
chart's load-test Job on a cluster), modelgen (train the default model, make synthetic ones),
local (the service under a local cgroup, load generators), e2e (the container end-to-end rig,
a proof rather than a user tool).
"""
