"""Load shapes, one per file, combined with the user as `-f loadtests/locustfile.py,<shape>`."""
