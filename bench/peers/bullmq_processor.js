// BullMQ peer: the three bench workloads. Used in-process by bullmq_worker.js
// (`inproc`) and as the sandboxed processor file (`sandboxed`), where BullMQ
// loads it in each of its reused child processes. The SQLite connection is
// opened once per process when this file is loaded: the same table, pragmas
// and one-row-per-transaction insert as forkpool's record_event. better-sqlite3
// is resolved through NODE_PATH (installed in the build directory).
'use strict';

const FIELDS = ['action', 'timestamp', 'org_id', 'user_id', 'object_id', 'object_type'];
let insert = null;

if (process.env.BENCH_DB) {
  const Database = require('better-sqlite3');
  const db = new Database(process.env.BENCH_DB, { timeout: 5000 });
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, action TEXT,' +
          ' timestamp TEXT, org_id TEXT, user_id TEXT, object_id TEXT, object_type TEXT)');
  insert = db.prepare('INSERT INTO events (action, timestamp, org_id, user_id, object_id,' +
                      ' object_type) VALUES (?, ?, ?, ?, ?, ?)');
}

module.exports = async function process_job(job) {
  switch (job.name) {
    case 'noop':
      return null;
    case 'sleep':
      await new Promise((resolve) => setTimeout(resolve, job.data.ms));
      return null;
    case 'record_event':
      insert.run(FIELDS.map((f) => (job.data[f] === undefined ? null : job.data[f])));
      return null;
    default:
      throw new Error('unknown job type ' + job.name);
  }
};
