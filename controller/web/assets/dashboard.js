// ferry dashboard: polls /dashboard/api/* every 2 s and renders the answers. No framework, no
// third-party code; every value reaches the page through textContent, never as HTML.
'use strict';

(() => {
  const POLL_MS = 2000; // 2 s: agents report progress every 1-5 s (Nova's monitor interval 5 s)
  const $ = (id) => document.getElementById(id);
  const state = {
    me: null, timer: null, trail: null, busy: false, again: false, historyKey: '',
    // Counts sessions on this page: an answer to an earlier session's request is dropped.
    session: 0,
    // The hosts panel shows one page by name: hostsAfter is the host it starts after (null: the
    // first page), hostsNext the next page's, hostsPageNo counts pages for the caption.
    hostsAfter: null, hostsNext: null, hostsPageNo: 1,
  };

  // ---- formatting -------------------------------------------------------------------------
  const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  function bytes(n) {
    if (n === null || n === undefined) return '–';
    let v = Number(n);
    let u = 0;
    while (Math.abs(v) >= 1024 && u < UNITS.length - 1) { v /= 1024; u++; }
    return (u === 0 ? v.toFixed(0) : v.toFixed(v < 10 ? 2 : 1)) + ' ' + UNITS[u];
  }
  function rate(bps) { return bps === null || bps === undefined || bps <= 0 ? '–' : bytes(bps) + '/s'; }
  function duration(s) {
    if (s === null || s === undefined || !isFinite(s)) return '–';
    s = Math.max(0, Math.round(Number(s)));
    if (s < 60) return s + 's';
    const m = Math.floor(s / 60);
    if (m < 60) return m + 'm ' + String(s % 60).padStart(2, '0') + 's';
    const h = Math.floor(m / 60);
    if (h < 48) return h + 'h ' + String(m % 60).padStart(2, '0') + 'm';
    return Math.floor(h / 24) + 'd ' + (h % 24) + 'h';
  }
  function clock(t) {
    if (!t) return '–';
    const d = new Date(t);
    if (isNaN(d)) return '–';
    const today = new Date();
    const time = d.toLocaleTimeString([], { hour12: false });
    return d.toDateString() === today.toDateString() ? time
      : d.toLocaleDateString([], { month: 'short', day: 'numeric' }) + ' ' + time;
  }
  const shortId = (u) => (u ? String(u).slice(0, 8) : '');

  // ---- DOM helpers ------------------------------------------------------------------------
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function td(text, cls) { return el('td', cls, text); }
  function badge(text, kind) { return el('span', 'badge ' + kind, text); }
  function statusKind(status) {
    if (['completed', 'done', 'succeeded', 'confirmed', 'finished'].includes(status)) return 'ok';
    if (['error', 'failed'].includes(status)) return 'bad';
    if (['cancelled', 'reverted', 'partial', 'cancelling', 'paused'].includes(status)) return 'warn';
    if (['queued', 'accepted', 'pending'].includes(status)) return 'neutral';
    return 'run';
  }
  function bar(percent, label, small) {
    const b = el('div', 'bar' + (small ? ' small' : ''));
    b.setAttribute('role', 'progressbar');
    b.setAttribute('aria-valuemin', '0');
    b.setAttribute('aria-valuemax', '100');
    b.appendChild(el('div', 'fill'));
    if (!small) b.appendChild(el('span', 'label'));
    setBar(b, percent, label);
    return b;
  }
  function setBar(b, percent, label) {
    const known = percent !== null && percent !== undefined && isFinite(percent);
    const p = known ? Math.max(0, Math.min(100, Number(percent))) : 0;
    b.classList.toggle('unknown', !known);
    if (known) b.setAttribute('aria-valuenow', p.toFixed(1));
    else b.removeAttribute('aria-valuenow');
    b.firstChild.style.width = p.toFixed(1) + '%';
    const l = b.querySelector('.label');
    if (l) l.textContent = label !== undefined ? label : (known ? p.toFixed(1) + '%' : '');
  }
  function meter(used, total, unit) {
    const wrap = el('div', 'meter');
    const pct = total > 0 ? (100 * used) / total : 0;
    const b = bar(pct, '', true);
    if (pct >= 90) b.classList.add('full');
    else if (pct >= 70) b.classList.add('hot');
    wrap.appendChild(b);
    wrap.appendChild(el('span', 'txt', used + ' / ' + total + (unit ? ' ' + unit : '')));
    return wrap;
  }
  function serverCell(name, uuid) {
    const c = el('td');
    c.appendChild(el('span', 'server-name', name || shortId(uuid)));
    c.appendChild(el('span', 'sub mono', uuid));
    return c;
  }
  function fill(tbody, rows) { tbody.replaceChildren(...rows); }

  // ---- HTTP -------------------------------------------------------------------------------
  class HttpError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }
  async function call(method, path, body) {
    const init = { method, credentials: 'same-origin', cache: 'no-store', headers: {} };
    if (body !== undefined) {
      init.body = body;
      init.headers['Content-Type'] = 'application/x-www-form-urlencoded';
    }
    const res = await fetch(path, init);
    if (res.status === 204) return null;
    let data = null;
    try { data = await res.json(); } catch (e) { data = null; }
    if (!res.ok) {
      // Nova's error body: {"<fault>": {"code": N, "message": "..."}}
      let message = res.status + ' ' + res.statusText;
      if (data && typeof data === 'object') {
        const fault = Object.values(data)[0];
        if (fault && fault.message) message = fault.message;
      }
      throw new HttpError(res.status, message);
    }
    return data;
  }
  const get = (path) => call('GET', path);

  // ---- views ------------------------------------------------------------------------------
  // What one session saw is never shown to the next on the same screen: signing out (or a
  // session that ended) empties every panel and tile, and answers still on their way to the old
  // session are dropped (state.session).
  function clearPanels() {
    ['moves-body', 'history-body', 'hosts-body', 'drains-list', 'trail-list'].forEach((id) => $(id).replaceChildren());
    ['moves-count', 'hosts-count', 'drains-count'].forEach((id) => { $(id).textContent = ''; });
    ['t-running', 't-queued', 't-failed', 't-hosts-down', 't-drains', 't-orphans'].forEach((id) => { $(id).textContent = '–'; });
    moveRows.clear();
    state.trail = null;
    $('trail').hidden = true;
    state.hostsAfter = null;
    state.hostsNext = null;
    state.hostsPageNo = 1;
  }
  function showLogin(message) {
    stopPolling();
    state.session += 1;
    clearPanels();
    state.me = null;
    document.body.classList.remove('is-admin');
    $('app').hidden = true;
    $('status').hidden = true;
    $('login-view').hidden = false;
    $('login-error').textContent = message || '';
    $('token').focus();
  }
  function showApp(me) {
    state.session += 1;
    clearPanels();
    state.me = me;
    document.body.classList.toggle('is-admin', !!me.admin);
    $('login-view').hidden = true;
    $('app').hidden = false;
    $('status').hidden = false;
    const who = $('who');
    who.replaceChildren(el('span', null, me.user));
    who.appendChild(el('span', 'role-badge', me.admin ? 'admin' : me.role + ' · ' + me.project_id));
    startPolling();
  }

  const moveRows = new Map(); // migration uuid -> { tr, cells }
  function moveRow(m) {
    let r = moveRows.get(m.migration_uuid);
    if (!r) {
      const tr = el('tr', 'clickable');
      tr.dataset.migration = m.migration_uuid;
      tr.dataset.server = m.server_uuid;
      tr.addEventListener('click', () => openTrail(m.migration_uuid, m.server_name));
      const cells = {
        server: serverCell(m.server_name, m.server_uuid),
        kind: td(m.kind),
        status: td(''),
        progress: td(''),
        rate: td('', 'num'),
        eta: td('', 'num'),
        queue: td('', 'num'),
        route: td('', 'admin-only'),
        drain: td('', 'admin-only mono'),
        age: td('', 'num'),
      };
      cells.bar = bar(null);
      cells.progress.appendChild(cells.bar);
      Object.values(cells).forEach((c) => { if (c.tagName === 'TD') tr.appendChild(c); });
      r = { tr, cells };
      moveRows.set(m.migration_uuid, r);
    }
    const c = r.cells;
    const st = badge(m.status, statusKind(m.status));
    c.status.replaceChildren(st);
    if (m.phase && m.phase !== m.status) c.status.appendChild(el('span', 'sub', m.phase));
    let label;
    if (m.progress_percent === null || m.progress_percent === undefined) {
      label = m.queue_position ? 'waiting for a slot' : m.status;
    } else {
      const total = (m.memory_total_bytes || 0) + (m.disk_total_bytes || 0);
      const done = (m.memory_processed_bytes || 0) + (m.disk_processed_bytes || 0);
      label = Number(m.progress_percent).toFixed(1) + '%' + (total ? '  ·  ' + bytes(done) + ' / ' + bytes(total) : '');
    }
    setBar(c.bar, m.progress_percent, label);
    c.rate.textContent = rate(m.transfer_rate_bps);
    c.eta.textContent = duration(m.eta_seconds);
    c.queue.textContent = m.queue_position ? '#' + m.queue_position : '–';
    c.route.textContent = m.source_host ? m.source_host + ' → ' + (m.dest_host || '?') : '';
    c.drain.textContent = shortId(m.drain_uuid);
    c.age.textContent = duration(m.age_seconds);
    r.tr.classList.toggle('selected', state.trail === m.migration_uuid);
    return r.tr;
  }
  function renderMoves(page) {
    const moves = page.moves;
    const seen = new Set(moves.map((m) => m.migration_uuid));
    for (const k of moveRows.keys()) if (!seen.has(k)) moveRows.delete(k);
    fill($('moves-body'), moves.map(moveRow));
    $('moves-empty').hidden = moves.length > 0;
    // The tiles count every move in flight, not only the page's (the oldest ones); null: the
    // count could not be read yet.
    const total = page.counts.in_progress;
    const queued = page.counts.queued;
    const known = total !== null && queued !== null;
    $('t-running').textContent = known ? total - queued : '–';
    $('t-queued').textContent = known ? queued : '–';
    $('t-running').parentElement.classList.toggle('busy', total - queued > 0);
    $('moves-count').textContent = total ? total + ' in progress' +
      (total > moves.length ? ', the oldest ' + moves.length + ' shown' : '') : '';
  }

  function hostsQuery() {
    const q = new URLSearchParams();
    if (state.hostsAfter !== null) q.set('after', state.hostsAfter);
    if ($('hosts-problems').checked) q.set('problems', '1');
    return q.toString();
  }
  function renderHosts(page) {
    const hosts = page.hosts;
    const sum = page.summary;
    fill($('hosts-body'), hosts.map((h) => {
      const tr = el('tr');
      tr.dataset.host = h.host;
      const name = el('td');
      name.appendChild(el('span', 'server-name', h.host));
      name.appendChild(el('span', 'sub', [h.hypervisor_type, h.cell].filter(Boolean).join(' · ')));
      tr.appendChild(name);
      const stateCell = el('td');
      let s;
      if (!h.is_up) s = badge(h.forced_down ? 'forced down' : 'down', 'bad'); else s = badge('up', 'ok');
      stateCell.appendChild(s);
      if (h.disabled) {
        stateCell.appendChild(document.createTextNode(' '));
        stateCell.appendChild(badge('disabled', 'warn'));
        if (h.disabled_reason) stateCell.appendChild(el('span', 'sub', h.disabled_reason));
      }
      if (h.heartbeat_age_seconds !== null && h.heartbeat_age_seconds !== undefined) {
        stateCell.appendChild(el('span', 'sub', 'heartbeat ' + duration(h.heartbeat_age_seconds) + ' ago'));
      }
      tr.appendChild(stateCell);
      tr.appendChild(td(h.servers, 'num'));
      const cpu = el('td'); cpu.appendChild(meter(h.vcpus_used || 0, h.vcpus || 0)); tr.appendChild(cpu);
      const ram = el('td');
      ram.appendChild(meter(Math.round((h.memory_mb_used || 0) / 1024), Math.round((h.memory_mb || 0) / 1024), 'GiB'));
      tr.appendChild(ram);
      tr.appendChild(td((h.outbound_moves || 0) + ' / ' + (h.inbound_moves || 0) + ' / ' + (h.queued_outbound || 0), 'num'));
      tr.appendChild(td(shortId(h.drain_uuid), 'mono'));
      return tr;
    }));
    // The tiles count every host, not only this page's.
    $('t-hosts-down').textContent = sum.down;
    $('t-hosts-down').parentElement.classList.toggle('alert', sum.down > 0);
    $('t-orphans').textContent = sum.orphaned_claims === null ? '–' : sum.orphaned_claims;
    $('t-orphans').parentElement.classList.toggle('alert', sum.orphaned_claims > 0);
    state.hostsNext = page.next;
    $('hosts-next').disabled = page.next === null;
    $('hosts-first').disabled = state.hostsAfter === null;
    const problems = sum.down + sum.disabled + sum.draining;
    $('hosts-count').textContent = (hosts.length ? 'page ' + state.hostsPageNo + ' · ' : '') +
      sum.total + ' hosts' + (problems ? ' · ' + sum.down + ' down, ' + sum.disabled +
      ' disabled, ' + sum.draining + ' draining' : '');
    $('hosts-empty').hidden = hosts.length > 0;
  }

  const openDrains = new Set(); // drains whose plan is unfolded
  function renderDrains(drains) {
    let running = 0;
    const list = drains.map((d) => {
      if (!d.finished_at) running++;
      const box = el('div', 'drain');
      box.dataset.drain = d.drain_uuid;
      const head = el('div', 'drain-head');
      head.appendChild(el('span', 'host', d.host));
      head.appendChild(badge(d.status, statusKind(d.status)));
      head.appendChild(el('span', 'muted', d.mode + ' · ' + d.max_parallel + ' at once'));
      head.appendChild(el('span', 'muted', 'ETA ' + duration(d.eta_seconds)));
      box.appendChild(head);
      box.appendChild(bar(d.progress_percent,
        (d.progress_percent === null ? '' : Number(d.progress_percent).toFixed(0) + '%  ·  ') +
        d.servers_moved + ' moved, ' + d.servers_moving + ' moving, ' + d.servers_pending + ' pending' +
        (d.servers_failed ? ', ' + d.servers_failed + ' failed' : '') +
        (d.servers_skipped ? ', ' + d.servers_skipped + ' skipped' : '') + ' of ' + d.servers_total));
      const det = el('details');
      det.open = openDrains.has(d.drain_uuid);
      det.addEventListener('toggle', () => {
        if (det.open) openDrains.add(d.drain_uuid); else openDrains.delete(d.drain_uuid);
      });
      det.appendChild(el('summary', null, 'Plan: ' + (d.servers || []).length + ' servers' +
        (d.remaining_servers && d.remaining_servers.length ? ' · left: ' + d.remaining_servers.slice(0, 6).join(', ') +
          (d.remaining_servers.length > 6 ? ' …' : '') : '')));
      const t = el('table', 'grid');
      const hr = el('tr');
      ['#', 'Server', 'Kind', 'State', 'Destination', 'Size', 'Tries'].forEach((h) => hr.appendChild(el('th', null, h)));
      t.appendChild(el('thead')).appendChild(hr);
      const tb = el('tbody');
      (d.servers || []).forEach((s) => {
        const tr = el('tr', s.migration_uuid ? 'clickable' : '');
        if (s.migration_uuid) tr.addEventListener('click', () => openTrail(s.migration_uuid, s.server_name));
        tr.appendChild(td(s.position, 'num'));
        tr.appendChild(td(s.server_name));
        tr.appendChild(td(s.kind));
        const sc = el('td'); sc.appendChild(badge(s.state, statusKind(s.state)));
        if (s.reason) sc.appendChild(el('span', 'sub', s.reason));
        tr.appendChild(sc);
        tr.appendChild(td(s.dest || s.planned_dest || '–'));
        tr.appendChild(td(bytes(s.bytes), 'num'));
        tr.appendChild(td(s.attempts, 'num'));
        tb.appendChild(tr);
      });
      t.appendChild(tb);
      det.appendChild(t);
      box.appendChild(det);
      return box;
    });
    $('drains-list').replaceChildren(...list);
    $('drains-empty').hidden = drains.length > 0;
    $('t-drains').textContent = running;
    $('t-drains').parentElement.classList.toggle('busy', running > 0);
    $('drains-count').textContent = drains.length ? running + ' running' : '';
  }

  function outcomeKind(o) {
    return o === 'succeeded' ? 'ok' : o === 'failed' ? 'bad' : o === 'cancelled' || o === 'reverted' ? 'warn' : 'neutral';
  }
  function renderHistory(rows) {
    let failed = 0;
    fill($('history-body'), rows.map((h) => {
      if (h.outcome === 'failed') failed++;
      const tr = el('tr', 'clickable');
      tr.dataset.migration = h.migration_uuid;
      tr.dataset.server = h.server_uuid;
      tr.addEventListener('click', () => openTrail(h.migration_uuid, h.server_name));
      tr.appendChild(td(clock(h.finished_at), 'num'));
      tr.appendChild(serverCell(h.server_name, h.server_uuid));
      tr.appendChild(td(h.kind));
      const oc = el('td', 'outcome'); oc.appendChild(badge(h.outcome, outcomeKind(h.outcome)));
      tr.appendChild(oc);
      tr.appendChild(td(duration(h.duration_seconds), 'num'));
      tr.appendChild(td(bytes(h.bytes_moved), 'num'));
      tr.appendChild(td(h.downtime_ms === null || h.downtime_ms === undefined ? '–' : h.downtime_ms + ' ms', 'num'));
      tr.appendChild(td(h.source_host ? h.source_host + ' → ' + (h.dest_host || '?') : '', 'admin-only'));
      tr.appendChild(td(h.reason || '', 'admin-only'));
      tr.classList.toggle('selected', state.trail === h.migration_uuid);
      return tr;
    }));
    $('history-empty').hidden = rows.length > 0;
    $('t-failed').textContent = failed;
    $('t-failed').parentElement.classList.toggle('alert', failed > 0);
  }
  function historyQuery() {
    const q = new URLSearchParams();
    if ($('f-kind').value) q.set('kind', $('f-kind').value);
    if ($('f-outcome').value) q.set('outcome', $('f-outcome').value);
    const host = $('f-host').value.trim();
    if (state.me && state.me.admin && host) q.set('host', host);
    if ($('f-range').value) q.set('since', String(Math.floor(Date.now() / 1000) - Number($('f-range').value)));
    q.set('limit', '50');
    return q.toString();
  }

  // ---- event trail ------------------------------------------------------------------------
  function openTrail(uuid, name) {
    state.trail = uuid;
    $('trail').hidden = false;
    $('trail-title').textContent = (name ? name + ' · ' : '') + uuid;
    $('trail-list').replaceChildren();
    $('trail-error').textContent = '';
    document.querySelectorAll('tr.selected').forEach((r) => r.classList.remove('selected'));
    document.querySelectorAll('tr[data-migration="' + uuid + '"]').forEach((r) => r.classList.add('selected'));
    loadTrail();
  }
  async function loadTrail() {
    const uuid = state.trail;
    if (!uuid) return;
    try {
      const session = state.session;
      const data = await get('/dashboard/api/moves/' + encodeURIComponent(uuid) + '/events');
      if (state.trail !== uuid || session !== state.session) return;
      $('trail-list').replaceChildren(...data.events.map((e) => {
        const li = el('li', statusKind(e.to_status) === 'bad' ? 'bad' : statusKind(e.to_status) === 'ok' ? 'ok' : '');
        li.appendChild(el('div', 'when', clock(e.at)));
        li.appendChild(el('div', 'what', (e.from_status ? e.from_status + ' → ' : '') + (e.to_status || '') +
          (e.event && e.event !== e.to_status ? '  (' + e.event + ')' : '')));
        const who = [e.actor, e.request_id].filter(Boolean).join(' · ');
        if (who) li.appendChild(el('div', 'why mono', who));
        if (e.reason) li.appendChild(el('div', 'why', e.reason));
        return li;
      }));
      $('trail-error').textContent = '';
    } catch (e) {
      if (e.status === 401) return showLogin('Your session has ended; sign in again.');
      $('trail-error').textContent = e.message;
    }
  }
  $('trail-close').addEventListener('click', () => {
    state.trail = null;
    $('trail').hidden = true;
    document.querySelectorAll('tr.selected').forEach((r) => r.classList.remove('selected'));
  });

  // ---- polling ----------------------------------------------------------------------------
  async function refresh() {
    if (!state.me) return;
    // A click during a refresh (a filter, a page) is served as soon as that refresh ends.
    if (state.busy) { state.again = true; return; }
    state.busy = true;
    const session = state.session;
    try {
      const admin = state.me.admin;
      const [moves, history, hosts, drains] = await Promise.all([
        get('/dashboard/api/moves'),
        get('/dashboard/api/history?' + historyQuery()).catch((e) => {
          if (e.status === 401) throw e;
          $('history-error').textContent = e.message;
          return null;
        }),
        // A page that fails (its start gone, say) leaves the other panels live; "first" returns.
        admin ? get('/dashboard/api/hosts?' + hostsQuery()).catch((e) => {
          if (e.status === 401) throw e;
          $('hosts-count').textContent = e.message;
          $('hosts-first').disabled = false;
          return null;
        }) : null,
        admin ? get('/dashboard/api/drains') : null,
      ]);
      if (session !== state.session) return;  // signed out (or in again) meanwhile
      renderMoves(moves);
      if (history) { $('history-error').textContent = ''; renderHistory(history.history); }
      if (hosts) renderHosts(hosts);
      if (drains) renderDrains(drains.drains);
      if (state.trail) loadTrail();
      $('live-dot').className = 'dot live';
      $('updated').textContent = 'updated ' + new Date().toLocaleTimeString([], { hour12: false });
    } catch (e) {
      if (session !== state.session) return;
      if (e.status === 401) { state.busy = false; return showLogin('Your session has ended; sign in again.'); }
      $('live-dot').className = 'dot stale';
      $('updated').textContent = 'no answer (' + e.message + '), retrying';
    } finally {
      state.busy = false;
      if (state.again) { state.again = false; setTimeout(refresh, 0); }
    }
  }
  function startPolling() {
    stopPolling();
    refresh();
    state.timer = setInterval(() => { if (!document.hidden) refresh(); }, POLL_MS);
  }
  function stopPolling() {
    if (state.timer) clearInterval(state.timer);
    state.timer = null;
  }
  ['f-kind', 'f-outcome', 'f-range', 'f-host'].forEach((id) => $(id).addEventListener('change', refresh));
  function hostsPage(after, pageNo) {
    state.hostsAfter = after;
    state.hostsPageNo = pageNo;
    refresh();
  }
  $('hosts-next').addEventListener('click', () => {
    if (state.hostsNext === null) return;
    $('hosts-next').disabled = true;  // until that page is shown: one click, one page
    const next = state.hostsNext;
    state.hostsNext = null;
    hostsPage(next, state.hostsPageNo + 1);
  });
  $('hosts-first').addEventListener('click', () => hostsPage(null, 1));
  $('hosts-problems').addEventListener('change', () => hostsPage(null, 1));
  $('history-filters').addEventListener('submit', (ev) => { ev.preventDefault(); refresh(); });

  // ---- login / logout ---------------------------------------------------------------------
  $('login-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const input = $('token');
    const body = new URLSearchParams({ token: input.value.trim() }).toString();
    input.value = '';
    $('login-button').disabled = true;
    try {
      await call('POST', '/dashboard/login', body);
      showApp(await get('/dashboard/api/me'));
    } catch (e) {
      showLogin(e.status === 401 ? 'That token is not valid.' : e.message);
    } finally {
      $('login-button').disabled = false;
    }
  });
  $('logout-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try { await call('POST', '/dashboard/logout'); } catch (e) { /* ended either way */ }
    showLogin('Signed out.');
  });

  get('/dashboard/api/me').then(showApp).catch((e) => showLogin(e.status === 401 ? '' : e.message));
})();
