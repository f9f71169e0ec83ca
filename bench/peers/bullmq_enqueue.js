// Pre-fill BullMQ's queue: node bullmq_enqueue.js TYPE ARGS_JSON COUNT, with
// Queue.addBulk in chunks of 1,000 and default job options.
'use strict';

const { Queue } = require('bullmq');

async function main() {
  const [kind, argsJson, countText] = process.argv.slice(2);
  const data = JSON.parse(argsJson);
  const queue = new Queue('bench', {
    connection: { host: '127.0.0.1', port: Number(process.env.BENCH_REDIS_PORT) },
  });
  for (let left = Number(countText); left > 0;) {
    const n = Math.min(1000, left);
    await queue.addBulk(Array.from({ length: n }, () => ({ name: kind, data })));
    left -= n;
  }
  await queue.close();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
