// The web UI end to end, in headless Chromium: a citizen applies for the newborn pack (出生一件事)
// through the portal, the window accepts it, public security asks for a correction that the
// citizen answers, the four implementing departments approve in parallel, the citizen downloads a
// license PDF and rates the service, and a supervisor looks the application up on the dashboard.
// Run once at a desktop size and once at 375x812 (a phone), against a fresh `onewindow demo`.
//
//   node web/tests/journey.mjs --binary build/src/onewindow --screenshots build/web-screenshots
//
// Or against a running demo: --base http://127.0.0.1:8080 --data-dir data/demo (it reads the
// officials' TOTP secrets from the data directory's demo-accounts.txt). Exits non-zero when a step
// fails, naming it; waits for elements and answers, never for fixed times.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { demoSecrets, freshCode } from './totp.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const options = { screenshots: resolve(here, '../../build/web-screenshots'), viewports: 'desktop,phone' };
for (let i = 2; i < process.argv.length; i += 2) options[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];

const password = 'onewindow-demo';
const timeout = 20000;
const viewports = {
  desktop: { width: 1280, height: 860 },
  phone: { width: 375, height: 812 },
};

function freePort() {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

// Starts `onewindow demo` on a free loopback port with a temporary data directory; its standard
// output (which lists the demo's secrets) is not kept.
async function startDemo(binary) {
  const port = await freePort();
  const dataDirectory = mkdtempSync(join(tmpdir(), 'onewindow-web-'));
  const webDirectory = options['web-dir'] ?? resolve(here, '../dist');
  const child = spawn(binary, ['demo', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDirectory,
    '--web-dir', webDirectory, '--database-url', 'sqlite'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let errors = '';
  child.stderr.on('data', (chunk) => { errors = (errors + chunk).slice(-4000); });
  const base = `http://127.0.0.1:${port}`;
  const started = Date.now();
  for (;;) {
    if (child.exitCode !== null) throw new Error(`onewindow demo exited with ${child.exitCode}:\n${errors}`);
    try {
      const health = await fetch(`${base}/healthz`);
      if (health.ok) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() - started > 60000) throw new Error(`onewindow demo did not answer within a minute:\n${errors}`);
    await new Promise((done) => setTimeout(done, 200));
  }
  const stop = async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((done) => child.once('exit', done));
    }
    rmSync(dataDirectory, { recursive: true, force: true });
  };
  return { base, dataDirectory, stop };
}

// A citizen ID number with a correct check character (GB 11643, ISO 7064 MOD 11-2).
function citizenId(first17) {
  const weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  const sum = [...first17].reduce((total, digit, i) => total + Number(digit) * weights[i], 0);
  return first17 + '10X98765432'[sum % 11];
}

// Small but real files of the types the materials take (the server checks the first bytes).
const pdfFile = Buffer.from('%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n');
const pngFile = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');

// Element Plus puts attributes of <el-input> on the native input, of other controls on their
// wrapper: a control by its data-test name either way.
const control = (name) => `:is(input,textarea)[data-test=${name}], [data-test=${name}] :is(input,textarea)`;

let stepNumber = 0;
let currentStep = '';
const scriptErrors = [];
async function step(name, body) {
  currentStep = name;
  const started = Date.now();
  await body();
  if (scriptErrors.length) throw new Error(`script error on the page: ${scriptErrors.join('; ')}`);
  console.log(`  ok ${++stepNumber} ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
}

async function run(browser, base, secrets, viewportName, screenshots) {
  const viewport = viewports[viewportName];
  mkdirSync(screenshots, { recursive: true });
  const contexts = [];
  const newPage = async () => {
    const context = await browser.newContext({ viewport, locale: 'zh-CN', acceptDownloads: true, baseURL: base });
    context.setDefaultTimeout(timeout);
    contexts.push(context);
    const page = await context.newPage();
    // A script error on any page fails the step it happened in.
    page.on('pageerror', (error) => scriptErrors.push(error.message));
    return page;
  };
  // A screenshot of the top of the page, or of where the page is scrolled to (keepScroll).
  const shot = async (page, name, keepScroll = false) => {
    if (!keepScroll) await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: join(screenshots, `${name}.png`), animations: 'disabled' });
  };
  const login = async (page, username) => {
    await page.goto('/login');
    await page.fill(control('username'), username);
    await page.fill(control('password'), password);
    if (secrets[username]) await page.fill(control('totp'), await freshCode(username, secrets[username]));
    await page.click('[data-test=login]');
    await page.waitForURL((url) => !url.pathname.startsWith('/login'));
    await page.locator('[data-test=logout]').waitFor();
  };
  const expectNoError = async (page) => {
    const error = page.locator('[data-test=error]');
    if (await error.count()) throw new Error(`the page shows an error: ${await error.first().innerText()}`);
  };

  let id = '';
  const citizen = await newPage();

  await step(`${viewportName}: a wrong password is told in plain words; the citizen logs in with the keyboard only`, async () => {
    await citizen.goto('/login');
    await citizen.focus(control('username'));
    await citizen.keyboard.type('citizen');
    await citizen.keyboard.press('Tab');
    await citizen.keyboard.type('not the password');
    await citizen.keyboard.press('Enter');
    const error = citizen.locator('[data-test=error]');
    await error.waitFor();
    if (!(await error.innerText()).includes('用户名、密码或动态口令不正确')) throw new Error(`the login error reads "${await error.innerText()}"`);
    await citizen.focus(control('password'));
    await citizen.keyboard.press('ControlOrMeta+A');
    await citizen.keyboard.type(password);
    await citizen.keyboard.press('Enter');
    await citizen.waitForURL((url) => !url.pathname.startsWith('/login'));
    await citizen.locator('[data-test=logout]').waitFor();
  });

  await step(`${viewportName}: the citizen finds the newborn pack`, async () => {
    await citizen.goto('/services');
    await citizen.fill(control('service-search'), '出生');
    await citizen.click('[data-test=service-search-button]');
    await citizen.click('[data-test="service-QD-CSYJS-001"]');
    await citizen.getByRole('heading', { name: '出生一件事' }).waitFor();
    await citizen.getByText('办理条件').waitFor();
    await shot(citizen, '01-service-guide');
  });

  await step(`${viewportName}: the form is prefilled from the registries, with its sources shown`, async () => {
    await citizen.click('[data-test=apply]');
    await citizen.waitForURL(/\/applications\/app_[0-9a-z]+\/edit$/);
    id = citizen.url().match(/applications\/(app_[0-9a-z]+)/)[1];
    const source = citizen.locator('[data-test=source-applicant_name]');
    await source.waitFor();
    const text = await source.innerText();
    if (!text.includes('人口') || !text.includes('卫生健康委员会')) throw new Error(`applicant_name's source reads "${text}"`);
    if (!(await citizen.inputValue(control('field-applicant_name')))) throw new Error('applicant_name is not prefilled');
    await shot(citizen, '02-apply-prefilled');
  });

  await step(`${viewportName}: the citizen fills in the rest, uploads two materials and submits`, async () => {
    await citizen.fill(control('field-child_name'), '张小明');
    await citizen.locator('[data-test=field-child_sex]').getByText('男').click();
    await citizen.fill(control('field-child_birth_date'), '2026-11-20');
    await citizen.fill(control('field-birth_hospital'), '莱西市人民医院');
    await citizen.fill(control('field-other_parent_name'), '王芳');
    await citizen.fill(control('field-other_parent_id'), citizenId('37028519920815222'));
    await citizen.click('[data-test=field-bank_for_card]');
    await citizen.locator('.el-select-dropdown__item:visible', { hasText: '青岛银行' }).click();
    await citizen.setInputFiles('[data-test=file-birth_record]', { name: '出生医学证明申领登记表.pdf', mimeType: 'application/pdf', buffer: pdfFile });
    await citizen.locator('[data-test=uploaded-birth_record]').waitFor();
    await citizen.setInputFiles('[data-test=file-photo]', { name: '照片.png', mimeType: 'image/png', buffer: pngFile });
    await citizen.locator('[data-test=uploaded-photo]').waitFor();
    await citizen.locator('[data-test=material-photo] .el-progress').waitFor();
    await citizen.locator('[data-test=material-birth_record]').scrollIntoViewIfNeeded();
    await shot(citizen, '03-apply-materials', true);
    await citizen.click('[data-test=submit]');
    await citizen.waitForURL(new RegExp(`/applications/${id}$`));
    await citizen.locator('[data-test=state]', { hasText: '待受理' }).waitFor();
    await expectNoError(citizen);
  });

  await step(`${viewportName}: the window accepts it${viewportName === 'desktop' ? ', and the demo\'s enterprise application with its seal specimen owed' : ''}`, async () => {
    const window = await newPage();
    await login(window, 'approval.clerk');
    await window.goto('/workbench/intake');
    const card = window.locator(`[data-test=intake-${id}]`);
    await card.waitFor();
    await shot(window, '04-intake-queue');
    await card.locator('[data-test=accept]').click();
    await card.waitFor({ state: 'detached' });
    await expectNoError(window);
    if (viewportName === 'desktop') {
      // The demo's enterprise application waiting at the window lacks its seal specimen, which is
      // not a key material: accepted with it owed (容缺受理).
      const waiting = window.locator('[data-test^=intake-]', { hasText: '企业开办' });
      await waiting.locator('[data-test=accept-with-missing]').click();
      const dialog = window.getByRole('dialog', { name: '容缺受理' });
      await dialog.getByText('印章').first().click();
      await dialog.getByRole('button', { name: '确定' }).click();
      await waiting.waitFor({ state: 'detached' });
      await expectNoError(window);
    }
  });

  const officials = {};
  await step(`${viewportName}: public security claims its task and asks for the parents' identity cards`, async () => {
    const police = (officials.police = await newPage());
    await login(police, 'police.clerk');
    await police.goto('/workbench');
    const task = police.locator(`[data-test=task-${id}]`);
    await task.waitFor();
    await task.locator('[data-test=claim]').click();
    await task.getByText('已认领').waitFor();
    await shot(police, '05-official-inbox');
    await task.locator('[data-test=review]').click();
    await police.waitForURL(new RegExp(`/workbench/applications/${id}$`));
    await police.locator('[data-test=outcome-correction]').click();
    await police.locator('[data-test=missing-parents_ids]').click();
    await police.fill(control('reason'), '请补充父母双方身份证件');
    await police.locator('[data-test=decision]').scrollIntoViewIfNeeded();
    await shot(police, '06-official-correction', true);
    await police.click('[data-test=decide]');
    await police.locator('[data-test=decided]').waitFor();
    await expectNoError(police);
  });

  await step(`${viewportName}: the citizen sees the correction request, uploads the cards and answers it`, async () => {
    await citizen.goto(`/applications/${id}`);
    const correction = citizen.locator('[data-test=correction]');
    await correction.waitFor();
    await correction.getByText('请补充父母双方身份证件').waitFor();
    await citizen.setInputFiles('[data-test=file-parents_ids]', { name: '身份证.pdf', mimeType: 'application/pdf', buffer: pdfFile });
    await citizen.locator('[data-test=uploaded-parents_ids]').waitFor();
    await correction.scrollIntoViewIfNeeded();
    await shot(citizen, '07-citizen-correction', true);
    await citizen.click('[data-test=correction-supplied]');
    await citizen.locator('[data-test=state]', { hasText: '办理中' }).waitFor();
    const holding = await citizen.locator('[data-test=holding]').innerText();
    if (!holding.includes('公安局')) throw new Error(`the departments holding it read "${holding}"`);
    if (!/\d{4}-\d{2}-\d{2}/.test(await citizen.locator('[data-test=expected]').innerText())) throw new Error('no expected completion date');
    await expectNoError(citizen);
  });

  await step(`${viewportName}: health, public security, medical insurance and social security approve in parallel`, async () => {
    const approve = async (department) => {
      let page = officials[department];
      if (!page) {
        page = officials[department] = await newPage();
        await login(page, `${department}.clerk`);
      }
      await page.goto('/workbench');
      const task = page.locator(`[data-test=task-${id}]`);
      await task.waitFor();
      await task.locator('[data-test=review]').click();
      await page.waitForURL(new RegExp(`/workbench/applications/${id}$`));
      await page.locator('[data-test=outcome-approve]').click();
      if (department === 'health') await shot(page, '08-official-review');
      await page.click('[data-test=decide]');
      await page.locator('[data-test=decided]').waitFor();
      await expectNoError(page);
    };
    await Promise.all(['health', 'police', 'medins', 'hrss'].map(approve));
  });

  await step(`${viewportName}: the citizen downloads a license PDF and rates the service`, async () => {
    await citizen.goto(`/applications/${id}`);
    await citizen.locator('[data-test=state]', { hasText: '已办结' }).waitFor();
    await citizen.locator('[data-test=licenses]').waitFor();
    const [download] = await Promise.all([
      citizen.waitForEvent('download'),
      citizen.click('[data-test=pdf-birth_medical_certificate]'),
    ]);
    const file = join(screenshots, 'license.pdf');
    await download.saveAs(file);
    const head = readFileSync(file).subarray(0, 5).toString('latin1');
    if (head !== '%PDF-') throw new Error(`the downloaded license is not a PDF (starts "${head}")`);
    await citizen.locator('[data-test=rate-stars] .el-rate__item').nth(4).click();
    await citizen.click('[data-test=rate-submit]');
    await citizen.locator('[data-test=rated]').waitFor();
    await citizen.locator('[data-test=licenses]').scrollIntoViewIfNeeded();
    await shot(citizen, '09-citizen-licenses', true);
  });

  await step(`${viewportName}: the citizen sees who read their data`, async () => {
    await citizen.goto('/data-reads');
    await citizen.locator('[data-test=reads] .el-table__row').first().waitFor();
    await shot(citizen, '10-data-reads');
  });

  await step(`${viewportName}: a supervisor finds the application on the dashboard, its every act and the figures`, async () => {
    const supervisor = await newPage();
    await login(supervisor, 'supervisor');
    await supervisor.goto('/supervision');
    await supervisor.fill(control('supervision-search'), id);
    await supervisor.click('[data-test=supervision-search-button]');
    await supervisor.locator('[data-test=supervision-applications]').getByText(id).waitFor();
    await shot(supervisor, '11-supervision');
    await supervisor.click(`[data-test=history-${id}]`);
    const history = supervisor.locator('[data-test=supervision-history]');
    await history.getByText('services.decide').first().waitFor();
    await history.getByText('services.correction_supplied').first().waitFor();
    await shot(supervisor, '12-supervision-history');
    await supervisor.keyboard.press('Escape');
    await history.waitFor({ state: 'hidden' });
    await supervisor.getByRole('tab', { name: '办件统计' }).click();
    await supervisor.locator('[data-test=chart-bar][data-drawn=true] canvas').waitFor();
    await supervisor.locator('[data-test=chart-pie][data-drawn=true] canvas').waitFor();
    await supervisor.locator('[data-test=metrics-table] .el-table__row').first().waitFor();
    await shot(supervisor, '13-supervision-figures');
    // The demo's overdue applications carry red warnings from the supervision pass at its start.
    await supervisor.getByRole('tab', { name: '预警' }).click();
    await supervisor.locator('[data-test=warnings-table] .el-table__row', { hasText: '红牌' }).first().waitFor();
  });

  await step(`${viewportName}: the operator creates an official's account and views a process model`, async () => {
    const operator = await newPage();
    await login(operator, 'operator');
    await operator.goto('/console');
    await operator.getByRole('tab', { name: '账号' }).click();
    await operator.locator('.account-form .el-select').first().waitFor();
    await operator.locator('.account-form .el-form-item', { hasText: '部门' }).locator('.el-select').click();
    await operator.locator('.el-select-dropdown__item:visible', { hasText: '青岛市医疗保障局' }).click();
    await operator.fill('#new-username', `medins.web.${viewportName}`);
    await operator.fill('#new-name', '医保局新同事');
    await operator.fill('#new-password', 'a long enough password 1');
    await operator.getByRole('button', { name: '创建账号' }).click();
    await operator.getByText(`已创建账号 medins.web.${viewportName}`).waitFor();
    await operator.getByText('动态口令密钥只显示这一次').waitFor();
    await operator.getByRole('tab', { name: '流程' }).click();
    // The processes of config/processes/ carry no diagram; one drawn in bpmn-js does.
    await operator.setInputFiles('[data-test=bpmn-file]', resolve(here, '../../config/processes/newborn.bpmn'));
    await operator.locator('[data-test=no-diagram]').waitFor();
    await operator.setInputFiles('[data-test=bpmn-file]', resolve(here, '../../tests/workflow/scenarios/models/drawn_in_bpmn_js.bpmn'));
    await operator.locator('.bpmn .djs-shape[data-element-id]').first().waitFor();
    await operator.locator('[data-test=no-diagram]').waitFor({ state: 'detached' });
    await shot(operator, '15-console-process', true);
    await expectNoError(operator);
  });

  await step(`${viewportName}: the interface switches to English and back`, async () => {
    const page = officials.health;
    await page.goto(`/workbench/applications/${id}`);
    await page.getByRole('button', { name: 'English' }).click();
    await page.getByRole('heading', { name: `Review · ${id}` }).waitFor();
    await page.locator('[data-test=decision]').getByText('Decision').first().waitFor();
    await shot(page, '14-english');
    await page.getByRole('button', { name: '中文' }).click();
    await page.getByRole('heading', { name: `审查办件 · ${id}` }).waitFor();
  });

  for (const context of contexts) await context.close();
}

async function main() {
  const started = Date.now();
  let demo = null;
  let base = options.base;
  let dataDirectory = options['data-dir'];
  if (!base) {
    if (!options.binary) throw new Error('give --binary (path to onewindow) or --base and --data-dir');
    demo = await startDemo(options.binary);
    base = demo.base;
    dataDirectory = demo.dataDirectory;
  }
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  try {
    const secrets = demoSecrets(dataDirectory);
    for (const name of options.viewports.split(',')) {
      console.log(`journey at ${name} size (${viewports[name].width}x${viewports[name].height})`);
      await run(browser, base, secrets, name, join(options.screenshots, name));
    }
    console.log(`journey passed in ${((Date.now() - started) / 1000).toFixed(1)} s; screenshots in ${options.screenshots}`);
  } finally {
    await browser.close();
    if (demo) await demo.stop();
  }
}

main().catch((error) => {
  console.error(`journey failed at "${currentStep}": ${error.message}`);
  process.exit(1);
});
