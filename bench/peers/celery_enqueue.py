"""Pre-fill Celery's queue: celery_enqueue.py TYPE ARGS_JSON COUNT. Celery has
no bulk publish; one producer (one connection) is reused for every message."""
import json
import sys

from celery_app import app, noop, record_event, sleep

tasks = {"noop": noop, "sleep": sleep, "record_event": record_event}
task = tasks[sys.argv[1]]
args = json.loads(sys.argv[2])
count = int(sys.argv[3])
with app.producer_or_acquire() as producer:
    for _ in range(count):
        task.apply_async(args=[args], producer=producer)
