"""The container end-to-end rig: the image under podman with real limits (a proof, not a tool)."""
