// Draws tests/workflow/scenarios/models/drawn_in_bpmn_js.bpmn with the real bpmn-js Modeler, in
// headless Chromium, the way a person draws it: a new diagram, shapes created and connected, ids,
// names and the onewindow attributes set as the properties panel sets them, then the Modeler's own
// saveXML. The model proves that a model drawn in bpmn-js, with the extension attributes of
// docs/workflow.md, runs unchanged (tests/workflow/scenarios/drawn_in_bpmn_js.scenario).
//
//   npm ci --prefix tests/workflow/bpmn-js && node tests/workflow/bpmn-js/draw.mjs [--screenshot PATH]
//
// Needs Debian's chromium (apt-get install chromium); CHROMIUM=/path overrides /usr/bin/chromium.
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const { chromium } = require('playwright-core');

const here = dirname(fileURLToPath(import.meta.url));
const output = resolve(here, '..', 'scenarios', 'models', 'drawn_in_bpmn_js.bpmn');
const screenshotAt = process.argv.indexOf('--screenshot');
const screenshot = screenshotAt > 0 ? process.argv[screenshotAt + 1] : '/tmp/drawn.png';
const descriptor = JSON.parse(readFileSync(join(here, 'ow-moddle.json'), 'utf8'));
const bpmnJs = dirname(require.resolve('bpmn-js/package.json'));

// Runs in the page: draws the diagram and returns the XML the Modeler saves.
async function draw(descriptor) {
  const modeler = new window.BpmnJS({ container: '#canvas', moddleExtensions: { ow: descriptor } });
  await modeler.createDiagram();

  const modeling = modeler.get('modeling');
  const elementFactory = modeler.get('elementFactory');
  const elementRegistry = modeler.get('elementRegistry');
  const bpmnFactory = modeler.get('bpmnFactory');
  const canvas = modeler.get('canvas');
  const root = canvas.getRootElement();

  // The process: its id, name and the instance deadline.
  modeling.updateProperties(root, {
    id: 'drawn_in_bpmn_js',
    name: '并联审批 (drawn)',
    isExecutable: true,
    'ow:workingDays': '10'
  });

  // A new diagram comes with a start event: move it and name it.
  const start = elementRegistry.filter((element) => element.type === 'bpmn:StartEvent')[0];
  const centre = (shape) => ({ x: shape.x + shape.width / 2, y: shape.y + shape.height / 2 });
  const at = centre(start);
  modeling.moveShape(start, { x: 180 - at.x, y: 300 - at.y });
  modeling.updateProperties(start, { id: 'received', name: '收件' });

  // A shape from the palette, dropped at (x, y) (its centre), then named in the properties panel.
  const shape = (type, x, y, properties, attrs = {}) => {
    const created = modeling.createShape(elementFactory.createShape({ type, ...attrs }), { x, y }, root);
    modeling.updateProperties(created, properties);
    return created;
  };
  // A connection drawn from source to target (bpmn-js picks a sequence flow), then renamed.
  const connect = (source, target, properties) => {
    const connection = modeling.connect(source, target);
    modeling.updateProperties(connection, properties);
    return connection;
  };

  const intake = shape('bpmn:UserTask', 310, 300, {
    id: 'intake', name: '受理', 'ow:candidateDepartment': 'approval', 'ow:candidateRole': 'official'
  });
  const split = shape('bpmn:ParallelGateway', 450, 300, { id: 'split' });
  const market = shape('bpmn:UserTask', 570, 190, {
    id: 'market_review', name: '市场监管审查', 'ow:candidateDepartment': 'market', 'ow:workingDays': '3'
  });
  const tax = shape('bpmn:UserTask', 570, 410, { id: 'tax_review', name: '税务审查', 'ow:candidateDepartment': 'tax' });
  const join = shape('bpmn:ParallelGateway', 710, 300, { id: 'join' });
  const decision = shape('bpmn:ExclusiveGateway', 820, 300, { id: 'decision', name: '审批结果' });
  const issue = shape('bpmn:ServiceTask', 960, 300, { id: 'issue', name: '出证', 'ow:hook': 'test.count' });
  const granted = shape('bpmn:EndEvent', 1100, 300, { id: 'granted', name: '办结' });
  const refused = shape('bpmn:EndEvent', 820, 430, { id: 'refused', name: '不予许可' });

  // A non-interrupting timer boundary event, dropped on the top edge of the market review.
  const reminder = modeling.createShape(
    elementFactory.createShape({
      type: 'bpmn:BoundaryEvent', eventDefinitionType: 'bpmn:TimerEventDefinition', cancelActivity: false
    }),
    { x: market.x + market.width - 20, y: market.y },
    market,
    { attach: true }
  );
  modeling.updateProperties(reminder, { id: 'reminder', name: '催办' });
  modeling.updateModdleProperties(reminder, reminder.businessObject.eventDefinitions[0], {
    id: 'reminder_timer', 'ow:workingDays': '2'
  });
  const reminded = shape('bpmn:EndEvent', 720, 80, { id: 'reminded', name: '已催办' });

  connect(start, intake, { id: 'to_intake' });
  connect(intake, split, { id: 'to_split' });
  connect(split, market, { id: 'to_market' });
  connect(split, tax, { id: 'to_tax' });
  connect(market, join, { id: 'market_done' });
  connect(tax, join, { id: 'tax_done' });
  connect(join, decision, { id: 'to_decision' });
  const toIssue = connect(decision, issue, { id: 'to_issue', name: '准予' });
  connect(issue, granted, { id: 'to_granted' });
  const toRefused = connect(decision, refused, { id: 'to_refused', name: '不予' });
  connect(reminder, reminded, { id: 'to_reminded' });

  // The condition and the default flow, as the properties panel sets them.
  modeling.updateProperties(toIssue, {
    conditionExpression: bpmnFactory.create('bpmn:FormalExpression', {
      body: "${outcomes.market_review == 'approve' and outcomes.tax_review == 'approve'}"
    })
  });
  modeling.updateProperties(decision, { default: toRefused.businessObject });

  canvas.zoom('fit-viewport');
  const { xml } = await modeler.saveXML({ format: true });

  // What was saved opens again without a warning and saves the same.
  const again = new window.BpmnJS({ container: '#check', moddleExtensions: { ow: descriptor } });
  const { warnings } = await again.importXML(xml);
  const { xml: resaved } = await again.saveXML({ format: true });
  return { xml, warnings: warnings.map((warning) => warning.message), same: resaved === xml };
}

// Playwright starts the browser on a fresh, empty profile of its own and removes it afterwards.
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'
  ]
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 640 } });
  page.on('pageerror', (error) => console.error('page error:', error.message));
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') console.error(`page ${message.type()}:`, message.text());
  });
  await page.setContent(
    '<!DOCTYPE html><html><head><meta charset="utf-8"></head>' +
    '<body style="margin:0"><div id="canvas" style="width:1280px;height:640px"></div>' +
    '<div id="check" style="width:1px;height:1px;overflow:hidden"></div></body></html>'
  );
  for (const css of ['diagram-js.css', 'bpmn-js.css', 'bpmn-font/css/bpmn-embedded.css']) {
    await page.addStyleTag({ path: join(bpmnJs, 'dist', 'assets', css) });
  }
  // bpmn-js names what it creates (the diagram ids: Activity_05rnnsa_di) from Math.random: a seeded
  // one keeps its own naming and makes the file the same on every run.
  await page.evaluate(() => {
    let seed = 0x6f77;
    Math.random = () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  });
  await page.addScriptTag({ path: join(bpmnJs, 'dist', 'bpmn-modeler.development.js') });

  const { xml, warnings, same } = await page.evaluate(draw, descriptor);
  if (warnings.length) throw new Error(`the saved model imports with warnings:\n${warnings.join('\n')}`);
  if (!same) throw new Error('the saved model does not save the same after importing it again');

  const text = xml.endsWith('\n') ? xml : xml + '\n';
  writeFileSync(output, text);
  await page.locator('#canvas').screenshot({ path: screenshot });
  const { version } = JSON.parse(readFileSync(join(bpmnJs, 'package.json'), 'utf8'));
  console.log(`wrote ${relative(process.cwd(), output) || output} (bpmn-js ${version}, ${browser.version()}); ` +
              `screenshot ${screenshot}\n`);
  console.log(text);
} finally {
  await browser.close();
}
