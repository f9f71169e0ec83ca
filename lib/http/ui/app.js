// app.js: the forkpool status page. Polls /api/ui every two seconds and
// redraws in place; charts are inline SVG. Every value from the daemon goes
// into the page as text (textContent), never as markup. Actions are POSTs
// with the admin token in the X-Forkpool-Token header; the token is kept in
// sessionStorage (this tab only) and the buttons show only when the daemon
// has actions enabled.
'use strict';

const POLL_MS = 2000;
const TOKEN_KEY = 'forkpool.adminToken';
const SVGNS = 'http://www.w3.org/2000/svg';
let state = null;
let actionsOn = false;

const $ = (id) => document.getElementById(id);

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

function fmtInt(n) {
  return n === null || n === undefined ? '–' : Number(n).toLocaleString('en-US');
}

function fmtRate(n) {
  if (n === null || n === undefined) return '–';
  return n < 10 ? n.toFixed(2) : n.toFixed(1);
}

function fmtDuration(ms) {
  if (ms === null || ms === undefined || ms < 0) return '–';
  const s = Math.floor(ms / 1000);
  if (s < 60) return (ms / 1000).toFixed(1) + ' s';
  if (s < 3600) return Math.floor(s / 60) + ' m ' + (s % 60) + ' s';
  if (s < 86400) return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' m';
  return Math.floor(s / 86400) + ' d ' + Math.floor((s % 86400) / 3600) + ' h';
}

function fmtTime(ms) {
  if (!ms) return '–';
  const d = new Date(ms);
  return d.toISOString().replace('T', ' ').slice(0, 19) + 'Z';
}

function fmtKb(kb) {
  if (!kb) return '–';
  return kb >= 1024 ? (kb / 1024).toFixed(1) + ' MiB' : kb + ' KiB';
}

function token() {
  return sessionStorage.getItem(TOKEN_KEY) || '';
}

function banner(text, ok) {
  const b = $('banner');
  b.textContent = text;
  b.className = ok ? 'banner ok' : 'banner';
  b.hidden = !text;
}

function cell(tr, text, cls) {
  const td = el('td', cls, text);
  tr.appendChild(td);
  return td;
}

function fill(tbody, rows, cols, empty) {
  tbody.replaceChildren();
  if (rows.length === 0) {
    const tr = el('tr');
    const td = cell(tr, empty, 'empty');
    td.colSpan = cols;
    tbody.appendChild(tr);
  }
  for (const r of rows) tbody.appendChild(r);
}

// ---- charts -----------------------------------------------------------------

function svg(tag, attrs) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  return e;
}

function niceMax(v) {
  if (v <= 0) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function axisLabel(v) {
  return Number.isInteger(v) ? fmtInt(v) : v.toFixed(1);
}

// Bars, one per bucket, newest at the right; 360 slots whatever the step.
function drawChart(box, values, kind, step) {
  // Drawn at the box's own width, so text is never stretched.
  const W = Math.max(240, Math.round(box.clientWidth || 600)), H = 120, L = 34, B = 16, T = 6;
  const n = 360;
  const pts = values.slice(-n);
  const max = niceMax(Math.max(0, ...pts.filter((v) => v !== null)));
  const s = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img' });
  box.className = 'plot ' + kind;
  for (const f of [0, 0.5, 1]) {
    const y = T + (H - T - B) * (1 - f);
    s.appendChild(svg('line', { x1: L, x2: W, y1: y, y2: y, class: 'grid' }));
    const t = svg('text', { x: L - 4, y: y + 3, 'text-anchor': 'end', class: 'axis' });
    t.textContent = axisLabel(max * f);
    s.appendChild(t);
  }
  const span = (n * step) / 60; // minutes shown
  for (const [label, x, anchor] of [[`−${span} m`, L, 'start'], [`−${span / 2} m`, L + (W - L) / 2, 'middle'], ['now', W, 'end']]) {
    const t = svg('text', { x, y: H - 3, 'text-anchor': anchor, class: 'axis' });
    t.textContent = label;
    s.appendChild(t);
  }
  const slot = (W - L) / n;
  const base = T + (H - T - B);
  pts.forEach((v, i) => {
    if (v === null || v <= 0) return;
    const h = Math.max(1, (H - T - B) * (v / max));
    const x = L + slot * (n - pts.length + i);
    s.appendChild(svg('rect', { x: x.toFixed(2), y: (base - h).toFixed(2), width: Math.max(0.8, slot * 0.8).toFixed(2), height: h.toFixed(2), class: 'bar' }));
  });
  box.replaceChildren(s);
}

// ---- sections ---------------------------------------------------------------

function renderHeader(d) {
  $('daemon-name').textContent = d.daemon.id || d.daemon.name;
  const st = $('daemon-state');
  st.textContent = d.daemon.state;
  st.className = 'pill ' + d.daemon.state;
  $('daemon-meta').textContent = `v${d.daemon.version} · up ${fmtDuration(d.daemon.uptime_ms)} · ` +
    `${d.children.length}/${d.daemon.children_target} children · ` +
    (d.daemon.queue === 'sqlite' ? `queue file ${d.daemon.redis_connected ? 'ready' : 'DOWN'}`
                                 : `Redis ${d.daemon.redis_connected ? 'connected' : 'DOWN'}`);
  document.title = `forkpool · ${d.daemon.name} · ${d.daemon.state}`;
}

function renderTiles(d) {
  const known = d.queues.filter((q) => q.known);
  const sum = (k) => (known.length ? known.reduce((a, q) => a + q[k], 0) : null);
  const set = (id, v) => {
    const e = $(id);
    e.textContent = fmtInt(v);
    e.classList.toggle('zero', !v);
  };
  set('stat-jobs-ok', d.counters.jobs_ok);
  set('stat-jobs-failed', d.counters.jobs_failed);
  set('stat-jobs-retried', d.counters.jobs_retried);
  set('stat-jobs-held', d.counters.jobs_held);
  set('stat-ready', sum('ready'));
  set('stat-dead', sum('dead'));
}

function renderCharts(d) {
  const step = d.series.step || 1;
  const per = step === 1 ? 'per second' : `per ${step} s`;
  const span = step === 1 ? 'last 6 min' : 'last hour';
  $('cap-done').textContent = `${per}, ${span}`;
  $('cap-failed').textContent = `${per}, ${span}`;
  $('cap-depth').textContent = `ready jobs, ${span}`;
  drawChart($('chart-done'), d.series.done, 'done', step);
  drawChart($('chart-failed'), d.series.failed, 'failed', step);
  drawChart($('chart-depth'), d.series.depth, 'depth', step);
}

function actionButton(label, cls, onClick) {
  const b = el('button', 'btn small ' + cls, label);
  b.type = 'button';
  b.addEventListener('click', onClick);
  return b;
}

function renderQueues(d) {
  const rows = d.queues.map((q) => {
    const tr = el('tr');
    tr.dataset.queue = q.name;
    cell(tr, q.name, 'mono');
    for (const k of ['ready', 'pending', 'delayed', 'dead']) {
      const td = cell(tr, q.known ? fmtInt(q[k]) : '…', 'num');
      td.dataset.field = k;
    }
    cell(tr, q.known && q.oldest_ready_ms >= 0 ? fmtDuration(q.oldest_ready_ms) : '–', 'num');
    cell(tr, q.known ? fmtRate(q.in_per_s) : '–', 'num');
    cell(tr, q.known ? fmtRate(q.out_per_s) : '–', 'num');
    const act = cell(tr, '', 'act');
    if (actionsOn && q.known && q.dead > 0) {
      act.appendChild(actionButton('Retry all dead', '', () => act_post('retry-all', { queue: q.name }, `Retry all ${q.dead} dead letters of ${q.name}?`)));
      act.appendChild(document.createTextNode(' '));
      act.appendChild(actionButton('Purge dead', 'danger', () => act_post('purge', { queue: q.name }, `Delete every dead letter of ${q.name}? This cannot be undone.`)));
    }
    return tr;
  });
  fill($('queues').tBodies[0], rows, 9, 'no queues');
}

function renderChildren(d) {
  const rows = d.children.map((c) => {
    const tr = el('tr');
    tr.dataset.pid = c.pid;
    cell(tr, c.id);
    cell(tr, c.pid, 'mono');
    const st = cell(tr, '');
    st.appendChild(el('span', 'chip ' + (c.state === 'busy' ? 'busy' : c.state === 'idle' ? 'idle' : 'warn'), c.state));
    cell(tr, c.job ? c.job.type + (c.job.id ? ' · ' + c.job.id : '') : '–', c.job ? 'mono' : '');
    cell(tr, c.job ? fmtDuration(c.job.running_ms) : '–', 'num');
    cell(tr, fmtInt(c.jobs_done), 'num').dataset.field = 'jobs_done';
    cell(tr, fmtKb(c.rss_kb), 'num');
    cell(tr, c.restarts ? fmtInt(c.restarts.count) : '0', 'num');
    cell(tr, c.restarts ? `${c.restarts.reason} · ${fmtTime(c.restarts.at)}` : '–');
    return tr;
  });
  fill($('children').tBodies[0], rows, 9, 'no children');
  const quiet = d.daemon.state === 'quiet';
  $('quiet').hidden = !actionsOn || quiet || d.daemon.state !== 'running';
  $('resume').hidden = !actionsOn || !quiet;
}

function renderFleet(d) {
  const rows = (d.fleet || []).map((m) => {
    const tr = el('tr');
    cell(tr, m.id, 'mono');
    const st = cell(tr, '');
    st.appendChild(el('span', 'chip ' + (m.status === 'live' ? 'idle' : 'bad'), m.status === 'live' ? (m.state || 'live') : 'gone'));
    cell(tr, m.version || '–');
    cell(tr, m.children ? `${m.children.busy}/${m.children.total}` : '–', 'num');
    cell(tr, m.jobs ? fmtInt(m.jobs.done) : '–', 'num');
    cell(tr, m.jobs ? fmtInt(m.jobs.failed) : '–', 'num');
    cell(tr, m.status === 'live' ? fmtDuration(m.uptime_ms) : 'last seen ' + fmtTime(m.last_seen_ms), 'num');
    return tr;
  });
  fill($('fleet').tBodies[0], rows, 7, d.fleet ? 'no daemon has written a heartbeat yet' : 'not read yet');
}

function renderDead(d) {
  const box = $('dead');
  box.replaceChildren();
  const list = d.dead || [];
  if (list.length === 0) {
    box.appendChild(el('div', 'none', d.dead ? 'No dead letters.' : 'Reading…'));
  }
  for (const e of list) {
    const item = el('div', 'letter');
    item.dataset.id = e.id;
    item.dataset.queue = e.queue;
    const top = el('div', 'top');
    top.appendChild(el('span', 'chip bad', e.queue));
    top.appendChild(el('span', 'mono', e.type ? e.type + (e.job_id ? ' · ' + e.job_id : '') : '(invalid payload)'));
    top.appendChild(el('span', 'meta grow', `${fmtTime(e.failed_at)} · ${e.attempts} attempt${e.attempts === 1 ? '' : 's'} · ${e.id}`));
    if (actionsOn) {
      const b = actionButton('Retry', 'retry', () => act_post('retry', { queue: e.queue, id: e.id }));
      top.appendChild(b);
    }
    item.appendChild(top);
    if (e.error) item.appendChild(el('div', 'error', e.error));
    const det = el('details');
    det.appendChild(el('summary', '', e.payload_cut ? `payload (first ${e.payload.length} of ${fmtInt(e.payload_bytes)} bytes)` : 'payload'));
    det.appendChild(el('pre', '', e.payload));
    item.appendChild(det);
    box.appendChild(item);
  }
}

function renderFailures(d) {
  $('failures-note').textContent = d.ledger ? 'from the ledger, newest first' : 'no ledger (ledger.path is empty)';
  const rows = (d.failures || []).map((f) => {
    const tr = el('tr');
    cell(tr, fmtTime(f.finished_at));
    cell(tr, f.queue, 'mono');
    cell(tr, f.type || '–', 'mono');
    cell(tr, f.job_id || f.entry_id, 'mono');
    const o = cell(tr, '');
    o.appendChild(el('span', 'chip ' + (f.outcome === 'retried' ? 'warn' : 'bad'), f.outcome));
    cell(tr, f.attempt, 'num');
    cell(tr, f.error || '', 'err');
    return tr;
  });
  fill($('failures').tBodies[0], rows, 7, d.ledger ? 'No failures recorded.' : 'Set ledger.path to keep a history.');
}

function render(d) {
  actionsOn = !!d.actions;
  $('token-button').hidden = !actionsOn;
  $('token-button').textContent = token() ? 'Token set' : 'Unlock actions';
  $('cancel-form').hidden = !actionsOn;
  renderHeader(d);
  renderTiles(d);
  renderCharts(d);
  renderQueues(d);
  renderChildren(d);
  renderFleet(d);
  renderDead(d);
  renderFailures(d);
  const la = d.last_action;
  $('last-action').textContent = la ? `Last action: ${la.action} — ${la.result} (${fmtTime(la.at)})` : '';
  const err = d.data_error ? `Could not read dead letters or failures: ${d.data_error}` : '';
  if (err) banner(err, false);
  $('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
}

async function poll() {
  try {
    const r = await fetch('api/ui', { cache: 'no-store' });
    if (!r.ok) throw new Error('HTTP ' + r.status);
    state = await r.json();
    render(state);
    document.body.dataset.loaded = '1';
  } catch (e) {
    $('updated').textContent = 'cannot reach the daemon (' + e.message + ')';
    $('daemon-state').textContent = 'unreachable';
    $('daemon-state').className = 'pill down';
  }
  setTimeout(poll, POLL_MS);
}

// ---- actions ------------------------------------------------------------------

async function act_post(action, args, confirmText) {
  if (!token()) {
    showTokenForm('Enter the admin token to use actions.');
    return;
  }
  if (confirmText && !window.confirm(confirmText)) return;
  const q = new URLSearchParams(args || {}).toString();
  try {
    const r = await fetch('api/ui/' + action + (q ? '?' + q : ''), {
      method: 'POST', cache: 'no-store', headers: { 'X-Forkpool-Token': token() },
    });
    const body = await r.json().catch(() => ({}));
    if (r.status === 403) {
      sessionStorage.removeItem(TOKEN_KEY);
      showTokenForm('The daemon refused the token (403). Enter it again.');
      banner('403: ' + (body.error || 'forbidden'), false);
      return;
    }
    if (!r.ok) {
      banner(`${action}: ${body.error || 'HTTP ' + r.status}`, false);
      return;
    }
    banner(r.status === 202 ? `${action}: accepted — the result shows below within a few seconds.` : `${action}: done.`, true);
  } catch (e) {
    banner(`${action}: ${e.message}`, false);
  }
}

function showTokenForm(message) {
  $('token-form').hidden = false;
  if (message) banner(message, false);
  $('token-input').focus();
}

function setup() {
  $('token-button').addEventListener('click', () => {
    const f = $('token-form');
    f.hidden = !f.hidden;
    if (!f.hidden) $('token-input').focus();
  });
  $('token-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const v = $('token-input').value.trim();
    if (v) sessionStorage.setItem(TOKEN_KEY, v);
    $('token-input').value = '';
    $('token-form').hidden = true;
    banner('Token kept for this tab.', true);
    if (state) render(state);
  });
  $('token-forget').addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN_KEY);
    $('token-form').hidden = true;
    banner('Token forgotten.', true);
    if (state) render(state);
  });
  $('quiet').addEventListener('click', () => act_post('quiet', null, 'Stop pulling new jobs? Running jobs finish.'));
  $('resume').addEventListener('click', () => act_post('resume'));
  $('cancel-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const id = $('cancel-id').value.trim();
    if (id) act_post('cancel', { id }, `Cancel job ${id} if it is still waiting?`);
  });
  poll();
}

document.addEventListener('DOMContentLoaded', setup);
