// BullMQ peer worker: node bullmq_worker.js inproc|sandboxed
// inproc: the processor runs in this process, concurrency 4.
// sandboxed: BullMQ's sandboxed processor, child processes (useWorkerThreads:
// false), concurrency 4: at most 4 children, created when jobs first need
// them and then reused. Job options and worker settings stay BullMQ's
// defaults. Prints BENCH-READY once the worker is connected; SIGTERM closes
// the worker (and its children, which this process reaps) and exits.
'use strict';

const path = require('path');
const { Worker } = require('bullmq');

const mode = process.argv[2];
const connection = {
  host: '127.0.0.1',
  port: Number(process.env.BENCH_REDIS_PORT),
  maxRetriesPerRequest: null,
};
const processor = mode === 'sandboxed'
  ? path.join(__dirname, 'bullmq_processor.js')
  : require('./bullmq_processor.js');
const worker = new Worker('bench', processor, {
  connection,
  concurrency: 4,
  useWorkerThreads: false,
});
worker.on('failed', (job, err) => process.stderr.write(`failed: ${err && err.message}\n`));
worker.waitUntilReady().then(() => process.stderr.write('BENCH-READY\n'));

let closing = false;
process.on('SIGTERM', async () => {
  if (closing) return;
  closing = true;
  await worker.close();
  process.exit(0);
});
