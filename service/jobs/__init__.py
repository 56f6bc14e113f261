"""The job API's service side: Celery on Redis (JOBS_ENABLED; docs/CONTRACT.md "Jobs").

The API (service/web/routes/jobs.py) validates a body with the sync route's decoder, then
queues it (client.py); a job worker (`python -m service.jobs.worker`, sized like the API)
decodes it again, calls the model and encodes the answer exactly as the sync route would
(execute.py). Our record of each job lives beside Celery's result (record.py, store.py).
"""
