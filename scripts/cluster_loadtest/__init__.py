"""The chart's load-test Job run on a cluster, with the pods' timeline as a report."""
