"""Locust load tests: the user, its load shapes and the SLO verdict.

Only the standard library and Locust are used here, so the loadtest image needs nothing
else. Modules without a Locust import (settings, profiles, answers, slo, holdout) are the
logic and are unit-tested in the pytest process; Locust itself patches with gevent and is
only ever run as its own process.
"""
