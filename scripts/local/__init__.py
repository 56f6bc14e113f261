"""The real service on this machine: gunicorn in a throw-away cgroup, and load against it."""
