"""The Celery app both sides share: its configuration is docs/CONTRACT.md's, from Settings.

The API only publishes (it reads results with its own Redis client: a result backend there
would subscribe to every job it sent); the job worker consumes and stores results.
"""

from __future__ import annotations

from typing import Any

from celery import Celery

from service.settings import Settings

TASK_NAME = "corebound.job"
# A child loads the model in worker_process_init; Celery kills one silent for longer (4 s by
# default), which a large model.onnx takes to map and pack.
CHILD_START_S = 600.0
# A submission answers 503 within about a second when Redis refuses: publish retries briefly.
SOCKET_TIMEOUT_S = 30
PUBLISH_RETRY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}


def celery_config(settings: Settings, *, results: bool = True) -> dict[str, Any]:
    """`results`: the worker's app stores results in Redis; the API's has no backend."""
    s = settings
    url = s.redis_url_text()
    visibility = {"visibility_timeout": s.job_visibility_s}
    broker = {
        **visibility,
        # Scan for messages of dead workers every 10 s (kombu's unacked_restore_interval):
        # by default only every tenth sweep looks, 100 s, long against a short timeout.
        "unacked_restore_throttle": 1,
        # A Redis gone without closing the connection (a partition) must not hang a publish
        # (or the API thread doing it) forever; kombu's BRPOP polls every second within it.
        "socket_timeout": SOCKET_TIMEOUT_S,
        "socket_connect_timeout": SOCKET_TIMEOUT_S,
    }
    return {
        "broker_url": url,
        "result_backend": url if results else None,
        # At least once: a message is acknowledged after its job ran, and one whose worker
        # died goes back to the queue (child lost: at once; whole worker: after visibility).
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "broker_transport_options": broker,
        "result_backend_transport_options": visibility,
        "task_time_limit": s.job_time_limit_s,
        "result_expires": s.job_result_ttl_s,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        "task_default_queue": s.job_queue,
        "broker_connection_retry_on_startup": True,
        "result_backend_always_retry": True,
        # A job worker waits out a Redis outage however long (Celery's default gives up
        # after 100 tries and exits); running jobs go on meanwhile.
        "broker_connection_max_retries": None,
        "worker_cancel_long_running_tasks_on_connection_loss": False,
        "worker_proc_alive_timeout": CHILD_START_S,
        "task_publish_retry_policy": PUBLISH_RETRY,
        "enable_utc": True,
        "timezone": "UTC",
    }


def create_celery(settings: Settings, *, results: bool = True) -> Celery:
    app = Celery("corebound", set_as_current=False)
    app.conf.update(celery_config(settings, results=results))
    return app
