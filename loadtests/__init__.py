"""Locust load tests: the user, its load shapes and the SLO verdict; the `helm test` model check.

Only the standard library and Locust are used here, so the loadtest image needs nothing
else. Modules without a Locust import (settings, profiles, model, samples, startup, wire,
answers, slo, holdout, modelcheck) are the logic and are unit-tested in the pytest process;
Locust itself patches with gevent and is only ever run as its own process.
"""
