// The dashboard in a real browser: Debian's Chromium driven by playwright-core, started by
// tests/browser/browser_dashboard_test.cpp against a running stack with sim agents.
//
//   FERRY_URL            the controller, http://127.0.0.1:<port>
//   FERRY_ADMIN_TOKEN    FERRY_MEMBER_TOKEN: tokens of the stack's token file
//   FERRY_ADMIN_SERVER   the server the test moves once this script says "ready-for-move"
//   FERRY_MEMBER_SERVER  the member's server, moved (and completed) before this script starts
//   FERRY_ARTIFACTS      where the screenshots go
//   CHROMIUM             the browser (default /usr/bin/chromium)
//
// Prints one line per step; exits 0 when every check held, 1 otherwise.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const url = env('FERRY_URL');
const adminToken = env('FERRY_ADMIN_TOKEN');
const memberToken = env('FERRY_MEMBER_TOKEN');
const adminServer = env('FERRY_ADMIN_SERVER');
const memberServer = env('FERRY_MEMBER_SERVER');
const artifacts = env('FERRY_ARTIFACTS');
mkdirSync(artifacts, { recursive: true });

const log = (...a) => console.log(new Date().toISOString(), ...a);
function check(cond, what) {
  if (!cond) throw new Error('check failed: ' + what);
  log('ok:', what);
}

const blocked = []; // requests to anywhere but 127.0.0.1
const urls = []; // every URL the browser asked for
const profile = mkdtempSync(join(tmpdir(), 'ferry-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  viewport: { width: 1440, height: 1000 },
});
let failed = false;
// The window the persistent context opened: the one page of this test.
const page = context.pages()[0] || (await context.newPage());
try {
  // Nothing may load from outside: every request elsewhere is refused and counted.
  await context.route('**/*', (route) => {
    const u = new URL(route.request().url());
    if (u.hostname === '127.0.0.1') return route.continue();
    blocked.push(u.href);
    return route.abort('blockedbyclient');
  });
  context.on('request', (r) => urls.push(r.url()));
  const consoleErrors = [];

  // ---- the admin --------------------------------------------------------------------------
  // Chromium logs every 4xx as a console error (the 401 of the first look before login):
  // only script errors count.
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  await page.goto(url + '/dashboard');
  await page.waitForSelector('#login-form', { state: 'visible' });
  check(await page.isHidden('#app'), 'the page asks for a token before showing anything');
  await page.fill('#token', adminToken);
  await page.click('#login-button');
  await page.waitForSelector('#moves-panel', { state: 'visible' });
  await page.waitForSelector('#hosts-body tr', { timeout: 10000 });
  check(await page.isVisible('#hosts-panel'), 'the admin sees the hosts panel');
  check(await page.isVisible('#drains-panel'), 'the admin sees the drains panel');
  const hostRows = await page.locator('#hosts-body tr').count();
  check(hostRows === 2, `two hosts listed (${hostRows})`);
  const hostsCaption = await page.textContent('#hosts-count');
  check(/\b2 hosts\b/.test(hostsCaption), `the caption counts every host (${hostsCaption})`);
  check(await page.isDisabled('#hosts-next'), 'one page of hosts: no next page');
  check((await page.textContent('#t-hosts-down')) === '0', 'no host down');
  check((await page.textContent('#t-orphans')) === '0', 'no orphaned claim');

  const cookies = await context.cookies(url + '/dashboard/');
  const session = cookies.find((c) => c.name === 'ferry_session');
  check(session && session.httpOnly, 'the session cookie is HttpOnly');
  check(session.sameSite === 'Strict', 'the session cookie is SameSite=Strict');
  check(session.path === '/dashboard', 'the session cookie is for /dashboard only');
  check(await page.evaluate(() => document.cookie) === '', 'scripts cannot read the cookie');

  console.log('ready-for-move'); // the test starts the admin server's live migration now
  const row = page.locator(`#moves-body tr[data-server="${adminServer}"]`);
  await row.waitFor({ timeout: 60000 });
  const bar = row.locator('[role=progressbar]');
  const seen = [];
  const deadline = Date.now() + 90000;
  while (Date.now() < deadline) {
    if ((await row.count()) === 0) break; // finished and gone from the live moves
    const v = await bar.getAttribute('aria-valuenow').catch(() => null);
    if (v !== null && (seen.length === 0 || Number(v) !== seen[seen.length - 1])) seen.push(Number(v));
    if (seen.length >= 3 && seen[seen.length - 1] > seen[0] && seen[seen.length - 1] < 90) break;
    await page.waitForTimeout(500);
  }
  log('progress seen:', seen.join(', '));
  check(seen.length >= 2 && seen[seen.length - 1] > seen[0], 'the progress bar grows while the move runs');
  const rateText = await row.locator('td').nth(4).textContent();
  check(/\/s$/.test(rateText.trim()), `a transfer rate is shown (${rateText.trim()})`);
  // An admin's counts are read behind the polls, every 2 s: the tile follows within a poll or two.
  const tileCounts = await page.waitForFunction(
    () => document.querySelector('#t-running').textContent === '1', null, { timeout: 6000 })
    .then(() => true, () => false);
  check(tileCounts, 'the moving tile counts the running move');
  const running = join(artifacts, 'dashboard-admin-running.png');
  await page.screenshot({ path: running, fullPage: true });
  log('screenshot:', running);
  await row.click(); // the event trail of that move
  await page.waitForSelector('#trail-list li', { timeout: 10000 });
  check(await page.locator('#trail-list li').count() >= 3, 'the event trail lists the move\'s steps');
  const trail = join(artifacts, 'dashboard-admin-trail.png');
  await page.screenshot({ path: trail });
  log('screenshot:', trail);
  await page.click('#trail-close');

  const done = page.locator(`#history-body tr[data-server="${adminServer}"] .outcome`);
  await done.waitFor({ timeout: 120000 });
  await page.waitForFunction(
    (s) => !document.querySelector(`#moves-body tr[data-server="${s}"]`), adminServer, { timeout: 30000 });
  check((await done.textContent()).trim() === 'succeeded', 'the move shows completed in the history');
  await page.waitForFunction(() => document.querySelector('#t-running').textContent === '0', null, { timeout: 10000 });
  check(true, 'the moving tile is back to 0');
  // The history filters narrow the list.
  await page.selectOption('#f-outcome', 'failed');
  await page.waitForFunction(() => document.querySelectorAll('#history-body tr').length === 0);
  check(true, 'filtering the history by outcome=failed hides the succeeded moves');
  await page.selectOption('#f-outcome', '');
  await page.waitForSelector(`#history-body tr[data-server="${adminServer}"]`);
  const after = join(artifacts, 'dashboard-admin.png');
  await page.screenshot({ path: after, fullPage: true });
  log('screenshot:', after);
  await page.click('#logout');
  await page.waitForSelector('#login-form', { state: 'visible' });
  const left = (await context.cookies(url + '/dashboard/')).find((c) => c.name === 'ferry_session');
  check(!left, 'logging out removes the cookie');
  const leftRows = await page.locator('#history-body tr, #moves-body tr, #hosts-body tr, #drains-list > *').count();
  check(leftRows === 0, `signing out leaves nothing of the session on the page (${leftRows} rows)`);

  // ---- a member ---------------------------------------------------------------------------
  await page.fill('#token', memberToken);
  await page.click('#login-button');
  await page.waitForSelector(`#history-body tr[data-server="${memberServer}"]`, { timeout: 15000 });
  check(await page.isHidden('#hosts-panel'), 'a member sees no hosts panel');
  check(await page.isHidden('#drains-panel'), 'a member sees no drains panel');
  const rows = await page.locator('#history-body tr').evaluateAll((trs) => trs.map((t) => t.dataset.server));
  check(rows.length === 1 && rows[0] === memberServer, `a member sees only their server's move (${rows})`);
  check(!(await page.content()).includes(adminServer), 'the admin\'s server appears nowhere on the member\'s page');
  const member = join(artifacts, 'dashboard-member.png');
  await page.screenshot({ path: member, fullPage: true });
  log('screenshot:', member);

  check(blocked.length === 0, `nothing was asked of any host but 127.0.0.1 (${blocked})`);
  const leaked = urls.filter((u) => u.includes(adminToken) || u.includes(memberToken));
  check(leaked.length === 0, `no token in any URL (${urls.length} requests)`);
  check(consoleErrors.length === 0, `no script errors (${consoleErrors.join(' | ')})`);
} catch (e) {
  failed = true;
  log('FAILED:', e.message);
  try {
    const shot = join(artifacts, 'dashboard-failure.png');
    await page.screenshot({ path: shot, fullPage: true });
    log('screenshot:', shot);
  } catch (_) { /* the browser is gone */ }
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
