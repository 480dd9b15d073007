'use strict';
// Browser tests: Debian's headless Chromium, driven by playwright-core, against a real
// anketa behind a real nginx. They check what only a browser shows: questions that appear
// and disappear as the participant answers (and that the server agrees on what was
// hidden), accessibility by axe-core, keyboard use, 200% zoom, and the staff dashboard.
// Screenshots of every page at phone and desktop widths go to build/artifacts/. The browser
// speaks Russian (ru-RU), as the participants' phones do.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { chromium } = require('playwright-core');

const root = process.env.ANKETA_ROOT || path.resolve(__dirname, '../..');
const bin = path.resolve(root, process.env.ANKETA_BIN || 'build/asan/anketa');
const artifacts = path.join(root, 'build/artifacts');
const chromiumFlags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
  '--no-first-run', '--disable-background-networking', '--disable-component-update',
  '--disable-sync'];

let dir, db, base, anketa, nginx, browser;
let tokens = [];
let staff = {}; // the demo's staff accounts: role -> { login, password }

function run(args, input) {
  return execFileSync(bin, args, { cwd: root, input, encoding: 'utf8',
    env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=0' } });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

async function waitFor(check, what) {
  for (let i = 0; i < 200; i++) {
    try {
      if (await check()) return;
    } catch (e) { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} did not become ready; see ${dir}`);
}

function sql(query) {
  return execFileSync('sqlite3', [db, query], { encoding: 'utf8' }).trim();
}

before(async () => {
  dir = fs.mkdtempSync('/tmp/anketa-browser-');
  db = path.join(dir, 'anketa.db');
  fs.mkdirSync(artifacts, { recursive: true });
  const demo = run(['demo', '--db', db]);
  for (const m of demo.matchAll(/^staff (\S+) (\S+) (\S+) \S+$/gm)) {
    staff[m[3]] = { login: m[1], password: m[2] };
  }
  assert.ok(staff.methodologist, 'the demo prints its staff accounts');
  // The past school years, computed as the server would have in those years.
  for (const m of demo.matchAll(/^period (\S+)$/gm)) {
    run(['indicators', 'run', '--region', 'demo', '--period', m[1], '--db', db, '--lua',
      path.join(root, 'lua')]);
  }
  run(['campaign', 'open', 'entry', '--survey', 'mentee-entry', '--org', 'demo-region',
    '--period', '2026/27', '--wave', 'entry', '--role', 'mentee', '--opens', '2026-01-01',
    '--closes', '2099-01-01', '--db', db]);
  const links = run(['links', 'entry', '--db', db, '--web', path.join(root, 'web')]);
  tokens = [...links.matchAll(/\/s\/([A-Za-z0-9_-]{22})/g)].map((m) => m[1]);
  assert.ok(tokens.length >= 4, 'the entry campaign invites the demo mentees');
  run(['user', 'add', 'coord', '--role', 'coordinator', '--org', 'demo-mun-1', '--name',
    'Петров Пётр Иванович', '--db', db], 'пароль-координатора\n');

  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const sock = path.join(dir, 'anketa.sock');
  execFileSync(path.join(root, 'scripts/nginx-conf.sh'),
    [root, dir, String(port), sock, '1m', path.join(dir, 'nginx.conf')]);
  const log = fs.openSync(path.join(dir, 'anketa.log'), 'a');
  anketa = spawn(bin, ['serve', '--db', db, '--socket', sock, '--socket-mode', '0600',
    '--workers', '2', '--surveys', path.join(root, 'surveys'), '--web', path.join(root, 'web'),
    '--lua', path.join(root, 'lua'), '--region', 'demo',
    '--plugin-dir', path.join(root, 'build/asan/plugins')],
  { stdio: ['ignore', log, log], env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=0' } });
  await waitFor(() => fs.existsSync(sock), 'anketa');
  nginx = spawn('/usr/sbin/nginx', ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e',
    path.join(dir, 'nginx-error.log'), '-g', 'daemon off;'], { stdio: 'ignore' });
  await waitFor(async () => (await fetch(`${base}/healthz`)).ok, 'nginx');
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: chromiumFlags });
});

after(async () => {
  if (browser) await browser.close();
  const stopped = [nginx, anketa].filter(Boolean).map((p) => new Promise((resolve) => {
    p.on('exit', resolve);
    p.kill('SIGTERM');
  }));
  await Promise.all(stopped);
  if (anketa && anketa.exitCode === 0) fs.rmSync(dir, { recursive: true, force: true });
});

// Answers every visible, unanswered question of the page the way a participant would.
async function fillVisible(page) {
  await page.evaluate(() => {
    const fire = (el) => {
      el.dispatchEvent(new Event('input', { bubbles: true }));
      el.dispatchEvent(new Event('change', { bubbles: true }));
    };
    for (const q of document.querySelectorAll('.question:not([hidden])')) {
      const groups = {};
      for (const r of q.querySelectorAll('input[type=radio]:not([disabled])')) {
        (groups[r.name] = groups[r.name] || []).push(r);
      }
      for (const name of Object.keys(groups)) {
        const radios = groups[name];
        if (!radios.some((r) => r.checked)) radios[radios.length - 1].click();
      }
      const boxes = [...q.querySelectorAll('input[type=checkbox]:not([disabled])')];
      if (boxes.length && !boxes.some((b) => b.checked)) boxes[0].click();
      for (const t of q.querySelectorAll('input[type=text], textarea')) {
        if (!t.value && !t.disabled) {
          t.value = t.inputMode === 'numeric' || t.inputMode === 'decimal' ? '1' : 'ответ';
          fire(t);
        }
      }
      for (const d of q.querySelectorAll('input[type=date]')) {
        if (!d.value) { d.value = '2026-10-01'; fire(d); }
      }
      for (const s of q.querySelectorAll('select')) {
        if (!s.value) { s.selectedIndex = s.options.length - 1; fire(s); }
      }
    }
  });
}

async function shoot(page, name) {
  for (const width of [390, 1280]) {
    await page.setViewportSize({ width, height: 900 });
    await page.screenshot({ path: path.join(artifacts, `${name}-${width}.png`), fullPage: true });
  }
}

test('show_if hides and shows a question live, and the server stores what was shown', async () => {
  const page = await browser.newPage({ locale: 'ru-RU' });
  const token = tokens[0];
  await page.goto(`${base}/s/${token}`);
  const where = page.locator('#q-met_where');
  assert.equal(await where.isHidden(), true, 'hidden until met_before is answered');
  await page.locator('#q-met_before-yes').check();
  assert.equal(await where.isVisible(), true, 'shown after "yes"');
  await page.locator('#q-met_where input, #q-met_where textarea').first().fill('в другой школе');
  assert.equal(await page.locator('#q-goals_text .qnum').innerText(), '4.');
  await page.locator('#q-met_before-no').check();
  assert.equal(await where.isHidden(), true, 'hidden again after "no"');
  assert.equal(await page.locator('#q-goals_text .qnum').innerText(), '3.',
    'the questions shown are numbered without a gap');
  await shoot(page, 'questionnaire');
  for (let i = 0; i < 12; i++) {
    await fillVisible(page);
    const next = page.locator('button[value=next]');
    if (await next.count()) {
      await Promise.all([page.waitForNavigation(), next.click()]);
      assert.ok(!(await page.locator('.error-summary').count()), 'a filled page is accepted');
      continue;
    }
    await Promise.all([page.waitForNavigation(), page.locator('button.submit').click()]);
    break;
  }
  assert.match(page.url(), /\/done$/);
  assert.equal(sql(`SELECT count(*) FROM responses r JOIN invitations i ON i.id = r.invitation_id
    WHERE i.token = '${token}'`), '1');
  assert.equal(sql(`SELECT count(*) FROM answers a JOIN responses r ON r.id = a.response_id
    JOIN invitations i ON i.id = r.invitation_id
    WHERE i.token = '${token}' AND a.question_id = 'met_where'`), '0',
  'the hidden answer is not stored');
  assert.equal(sql(`SELECT a.value FROM answers a JOIN responses r ON r.id = a.response_id
    JOIN invitations i ON i.id = r.invitation_id
    WHERE i.token = '${token}' AND a.question_id = 'met_before'`), 'no');
  await page.close();
});

async function axeProblems(page) {
  await page.addScriptTag({ path: require.resolve('axe-core/axe.min.js') });
  const result = await page.evaluate(() => window.axe.run());
  return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`);
}

test('questionnaire pages pass axe-core, also with errors shown and at 200% zoom', async () => {
  // axe is injected as a script, which the pages' Content-Security-Policy would refuse.
  const context = await browser.newContext({ bypassCSP: true, locale: 'ru-RU' });
  const page = await context.newPage();
  await page.goto(`${base}/s/${tokens[1]}`);
  assert.deepEqual(await axeProblems(page), []);
  await Promise.all([page.waitForNavigation(), page.locator('button.submit').click()]);
  assert.ok(await page.locator('.error-summary').count(), 'an empty page shows its problems');
  assert.deepEqual(await axeProblems(page), []);
  // 200% zoom of a 1280 px screen: the page lays out in 640 CSS px, with nothing cut off.
  await page.setViewportSize({ width: 640, height: 800 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - innerWidth);
  assert.ok(overflow <= 0, `no sideways scrolling at 200% (overflow ${overflow}px)`);
  await page.screenshot({ path: path.join(artifacts, 'questionnaire-errors-zoom200.png'),
    fullPage: true });
  await context.close();
});

test('the questionnaire can be answered by keyboard alone', async () => {
  const page = await browser.newPage({ locale: 'ru-RU' });
  await page.goto(`${base}/s/${tokens[2]}`);
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.getAttribute('href')), '#main',
    'the first stop skips to the content');
  // Tab on to the first answer and take it with the space bar.
  for (let i = 0; i < 30; i++) {
    await page.keyboard.press('Tab');
    const type = await page.evaluate(() => document.activeElement.type);
    if (type === 'checkbox' || type === 'radio') break;
  }
  await page.keyboard.press('Space');
  assert.equal(await page.evaluate(() => document.activeElement.checked), true);
  const focus = await page.evaluate(() => getComputedStyle(document.activeElement.closest('label')
    || document.activeElement).outlineStyle);
  assert.notEqual(focus, 'none', 'the focused answer is visibly marked');
  await page.close();
});

test('a coordinator signs in, sees the municipality, drills down and cannot leave it', async () => {
  const context = await browser.newContext({ bypassCSP: true, locale: 'ru-RU' });
  const page = await context.newPage();
  await page.goto(`${base}/dash`);
  assert.match(page.url(), /\/login\?next=/);
  await page.fill('#login', 'coord');
  await page.fill('#password', 'пароль-координатора');
  await Promise.all([page.waitForNavigation(), page.click('button.submit')]);
  assert.match(page.url(), /\/dash\/org\/demo-mun-1$/);
  assert.match(await page.locator('h1').innerText(), /Приозёрск/);
  assert.deepEqual(await axeProblems(page), []);
  await shoot(page, 'dashboard-municipality');
  await Promise.all([page.waitForNavigation(),
    page.locator('a[href="/dash/org/demo-sch-1"]').first().click()]);
  assert.match(await page.locator('h1').innerText(), /Средняя общеобразовательная школа № 1/);
  await Promise.all([page.waitForNavigation(),
    page.locator('a[href*="/campaign/entry"]').first().click()]);
  assert.match(await page.locator('h1').innerText(), /входное/);
  await shoot(page, 'dashboard-campaign');
  const other = await page.goto(`${base}/dash/org/demo-sch-3`);
  assert.equal(other.status(), 404, 'a school of another municipality is not found');
  await context.close();
});

// The files of a zip (an XLSX workbook) by name, read through its central directory.
function unzip(buf) {
  const zlib = require('node:zlib');
  let end = buf.length - 22;
  while (end >= 0 && buf.readUInt32LE(end) !== 0x06054b50) end--;
  assert.ok(end >= 0, 'a zip file');
  const files = {};
  let at = buf.readUInt32LE(end + 16);
  for (let i = 0; i < buf.readUInt16LE(end + 10); i++) {
    assert.equal(buf.readUInt32LE(at), 0x02014b50);
    const method = buf.readUInt16LE(at + 10);
    const size = buf.readUInt32LE(at + 20);
    const nameLen = buf.readUInt16LE(at + 28);
    const extraLen = buf.readUInt16LE(at + 30);
    const commentLen = buf.readUInt16LE(at + 32);
    const local = buf.readUInt32LE(at + 42);
    const name = buf.toString('utf8', at + 46, at + 46 + nameLen);
    const data = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    const raw = buf.subarray(data, data + size);
    files[name] = (method === 8 ? zlib.inflateRawSync(raw) : raw).toString('utf8');
    at += 46 + nameLen + extraLen + commentLen;
  }
  return files;
}

async function download(page, selector) {
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click(selector)]);
  return { name: dl.suggestedFilename(), data: fs.readFileSync(await dl.path()) };
}

test('a methodologist reads the analytical report, prints it, and downloads the tables', async () => {
  const context = await browser.newContext({ bypassCSP: true, locale: 'ru-RU', acceptDownloads: true });
  const page = await context.newPage();
  await page.goto(`${base}/login`);
  await page.fill('#login', staff.methodologist.login);
  await page.fill('#password', staff.methodologist.password);
  await Promise.all([page.waitForNavigation(), page.click('button.submit')]);
  assert.match(page.url(), /\/dash\/org\/demo-region$/);
  // The region's dashboard compares its municipalities with bars.
  assert.ok(await page.locator('table.compare svg.hbar').count() > 0);
  await page.goto(`${base}/dash/org/demo-region?period=2026/27`);
  await Promise.all([page.waitForNavigation(), page.click('.page-links a[href*="/report"]')]);
  assert.match(await page.locator('h1').innerText(), /Демонстрационная область/);
  // The KPI table: a row per indicator, five school years, and a chart per indicator with
  // bars for the years that have values (the demo has four).
  const years = await page.locator('table.kpi thead th').allInnerTexts();
  assert.deepEqual(years.slice(1), ['2022/23', '2023/24', '2024/25', '2025/26', '2026/27']);
  const indicators = fs.readdirSync(path.join(root, 'lua/regions/demo'))
    .filter((f) => f.endsWith('.lua') && f !== 'region.lua' && !f.endsWith('_test.lua'));
  assert.equal(await page.locator('table.kpi tbody tr').count(), indicators.length);
  const charts = page.locator('.charts figure.chart');
  assert.ok(await charts.count() >= 10);
  assert.equal(await charts.first().locator('rect.bar').count(), 4);
  // Growth per form of mentoring, entry against final, with both bars drawn.
  assert.ok(await page.locator('table.growth svg.growth-bars rect.final').count() >= 4);
  assert.ok(await page.locator('table.growth th', { hasText: 'ученик – ученик' }).count() > 0);
  assert.deepEqual(await axeProblems(page), []);
  await shoot(page, 'report');
  // On paper: no navigation or buttons, every section there.
  await page.emulateMedia({ media: 'print' });
  assert.equal(await page.locator('.year-pick').isVisible(), false);
  assert.equal(await page.locator('header.site').isVisible(), false);
  assert.equal(await page.locator('#h-rates').isVisible(), true);
  await page.pdf({ path: path.join(artifacts, 'report.pdf'), format: 'A4' });
  await page.emulateMedia({ media: 'screen' });

  // The federal statistics table, and the same as a file.
  await page.goto(`${base}/dash/org/demo-region/federal?period=2026/27`);
  const total = Number(await page.locator('p strong').innerText());
  assert.ok(total > 50);
  await shoot(page, 'federal');
  const csv = await download(page, 'a[href*="export/federal?format=csv&"]');
  assert.equal(csv.name, 'federal-demo-region.csv');
  const lines = csv.data.toString('utf8').replace(/^\uFEFF/, '').trim().split('\r\n');
  assert.equal(lines[0], 'school_year,org_code,form,role,age_band,count');
  const sum = lines.slice(1).reduce((n, l) => n + Number(l.split(',').pop()), 0);
  assert.equal(sum, total, 'the file adds up to the table');

  // The answers of the region as an Excel workbook and as CSV for Excel.
  await page.goto(`${base}/dash/org/demo-region?period=2026/27`);
  const xlsx = await download(page, 'a[href*="export/responses?format=xlsx"]');
  assert.equal(xlsx.name, 'responses-demo-region.xlsx');
  const files = unzip(xlsx.data);
  const sheet = files['xl/worksheets/sheet1.xml'];
  assert.ok(sheet, 'the workbook has its sheet');
  const shared = files['xl/sharedStrings.xml'] || '';
  assert.match(sheet + shared, /mentee-final/);
  assert.doesNotMatch(sheet + shared, /DEMO-G26/, 'participants are pseudonymised');
  const answers = Number(sql("SELECT count(*) FROM responses r JOIN invitations i ON i.id = r.invitation_id JOIN campaigns c ON c.id = i.campaign_id"));
  assert.equal((sheet.match(/<row /g) || []).length, answers + 1, 'a row per response and the header');
  const xcsv = await download(page, 'a[href*="export/responses?format=csv-excel"]');
  const text = xcsv.data.toString('utf8');
  assert.ok(text.startsWith('\uFEFF'));
  assert.equal(text.trim().split('\r\n')[0].split(';')[0], 'response_id');
  await context.close();
});

test('each role of the demo signs in, lands on its own organisation and sees nothing beyond it', async () => {
  const homes = {
    curator: ['demo-sch-1', 'demo-sch-2'],
    coordinator: ['demo-mun-1', 'demo-mun-2'],
    methodologist: ['demo-region', null],
    admin: ['demo-region', null], // the first region: the administrator's is everything
  };
  for (const [role, [home, outside]] of Object.entries(homes)) {
    const context = await browser.newContext({ bypassCSP: true, locale: 'ru-RU' });
    const page = await context.newPage();
    await page.goto(`${base}/login`);
    await page.fill('#login', staff[role].login);
    await page.fill('#password', staff[role].password);
    await Promise.all([page.waitForNavigation(), page.click('button.submit')]);
    assert.match(page.url(), new RegExp(`/dash/org/${home}$`), role);
    // Its page has the indicators with their trend lines and the links to the reports.
    await page.goto(`${page.url()}?period=2026/27`);
    assert.ok(await page.locator('table.indicators svg.spark').count() > 0, `${role}: trends`);
    assert.ok(await page.locator('.page-links a[href*="/report"]').count() === 1, role);
    assert.equal(await page.locator('.page-links a[href="/dash/audit"]').count(),
      role === 'admin' ? 1 : 0, `${role}: the audit log is the administrator's`);
    if (outside) {
      const other = await page.goto(`${base}/dash/org/${outside}`);
      assert.equal(other.status(), 404, `${role}: ${outside} is not found`);
    }
    await context.close();
  }
});
