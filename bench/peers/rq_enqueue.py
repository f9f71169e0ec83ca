"""Pre-fill RQ's queue: rq_enqueue.py REDIS_URL TYPE ARGS_JSON COUNT, with
Queue.enqueue_many in pipelines of 1,000. Job options stay RQ's defaults."""
import json
import sys

from redis import Redis
from rq import Queue

url, kind, args, count = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), int(sys.argv[4])
queue = Queue("default", connection=Redis.from_url(url))
left = count
while left > 0:
    n = min(1000, left)
    datas = [Queue.prepare_data("rq_tasks." + kind, args=(args,)) for _ in range(n)]
    with queue.connection.pipeline() as pipe:
        queue.enqueue_many(datas, pipeline=pipe)
        pipe.execute()
    left -= n
