// Baseline half of the workflow benchmark: the parallel-approval model
// (start, parallel split into four department reviews, join, end) run to
// completion in the npm package bpmn-engine, in memory, one instance after
// another. Prints exactly one JSON line on stdout:
//   {"engine":"bpmn-engine","version":"x.y.z","instances":N,"seconds":S,
//    "instances_per_second":R,"reviews":4}
//
// A note on stderr gives the CPU time used while measuring.
//
// Usage: node run.js [--seconds S] [--instances N] [--warmup N] [--parse-each]
//   --seconds S    measure for about S seconds (default 5)
//   --instances N  measure exactly N instances instead of a time budget
//   --warmup N     instances run before measuring (default 200)
//   --parse-each   give each Engine the XML text (`source`), so every instance
//                  parses the BPMN again; a diagnostic, not the default figure
//
// How the model is handed to bpmn-engine (the throughput choice):
// bpmn-engine's Engine is one process instance (its state, getState(),
// recover() and resume() all belong to one Engine), so every instance gets a
// new Engine. Passing `source` (XML) makes each Engine parse the XML with
// bpmn-moddle and serialize it again, which is pure repeated work for an
// unchanged model. bpmn-engine documents the alternative: parse once with
// bpmn-moddle, serialize once with moddle-context-serializer's Serializer and
// a TypeResolver over bpmn-elements, and hand that `sourceContext` to each
// Engine (the addSource() example of its API doc; its own recover() does the
// same). The serialized context is read-only at run time: each Engine builds
// fresh activity and flow objects from it, so sharing it between instances is
// safe. That is what a user after throughput would do, so it is the default.
// Everything else is left as bpmn-engine ships it (default logger, scripts,
// expressions); there is no persistence: nothing calls getState().

import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { Engine } from 'bpmn-engine';
import BpmnModdle from 'bpmn-moddle';
import * as elements from 'bpmn-elements';
import Serializer, { TypeResolver } from 'moddle-context-serializer';

const here = dirname(fileURLToPath(import.meta.url));
const MODEL_PATH = join(here, '..', 'models', 'parallel_reviews.bpmn');
const REVIEWS = ['market_review', 'tax_review', 'police_review', 'hrss_review'];

function fail(message) {
  process.stderr.write(`bpmn-engine bench: ${message}\n`);
  process.exit(1);
}

function parseArgs(argv) {
  const opts = { seconds: 5, instances: 0, warmup: 200, parseEach: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const number = () => {
      const value = Number(argv[++i]);
      if (!Number.isFinite(value) || value < 0) fail(`${arg} needs a non-negative number`);
      return value;
    };
    if (arg === '--seconds') opts.seconds = number();
    else if (arg === '--instances') opts.instances = Math.floor(number());
    else if (arg === '--warmup') opts.warmup = Math.floor(number());
    else if (arg === '--parse-each') opts.parseEach = true;
    else fail(`unknown argument ${arg}`);
  }
  if (!opts.instances && !(opts.seconds > 0)) fail('need --seconds > 0 or --instances > 0');
  return opts;
}

function engineVersion() {
  // bpmn-engine's exports map hides its package.json; find it beside its entry.
  const require = createRequire(import.meta.url);
  const entry = require.resolve('bpmn-engine'); // .../bpmn-engine/lib/index.cjs
  return JSON.parse(readFileSync(join(dirname(entry), '..', 'package.json'), 'utf8')).version;
}

async function serializeOnce(xml) {
  const moddleContext = await new BpmnModdle().fromXML(xml);
  for (const warning of moddleContext.warnings || []) {
    fail(`model does not parse cleanly: ${warning.message}`);
  }
  return Serializer(moddleContext, TypeResolver(elements));
}

// One instance, start to end. Every user task that waits is completed with a
// signal as soon as it waits; the promise settles on the engine's 'end'.
async function runInstance(engineOptions, seq) {
  const signalled = new Map(); // user task id -> waits seen and signalled
  const completed = new Map(); // user task id -> times it ended
  let endEvents = 0;
  const listener = new EventEmitter();
  // bpmn-engine emits both 'activity.wait' and 'wait' for the same wait;
  // listen to one of them only, or each task would be signalled twice.
  listener.on('activity.wait', (api) => {
    signalled.set(api.id, (signalled.get(api.id) || 0) + 1);
    api.signal({ approved: true });
  });
  listener.on('activity.end', (api) => {
    if (api.id === 'end') endEvents++;
    else if (api.type === 'bpmn:UserTask') completed.set(api.id, (completed.get(api.id) || 0) + 1);
  });

  const engine = new Engine({ name: `parallel_reviews-${seq}`, ...engineOptions });
  // Subscribe before execute(): with immediate signals the whole instance can
  // finish inside execute(), before its promise resolves.
  let engineEnds = 0;
  engine.on('end', () => engineEnds++);
  const ended = engine.waitFor('end');
  await engine.execute({ listener });
  await ended;

  if (engineEnds !== 1) fail(`instance ${seq}: engine 'end' emitted ${engineEnds} times`);
  if (endEvents !== 1) fail(`instance ${seq}: end event reached ${endEvents} times`);
  if (signalled.size !== REVIEWS.length) {
    fail(`instance ${seq}: waits seen for [${[...signalled.keys()].join(', ')}], want [${REVIEWS.join(', ')}]`);
  }
  for (const id of REVIEWS) {
    const count = signalled.get(id) || 0;
    if (count !== 1) fail(`instance ${seq}: ${id} signalled ${count} times, want 1`);
    const ends = completed.get(id) || 0;
    if (ends !== 1) fail(`instance ${seq}: ${id} completed ${ends} times, want 1`);
  }
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const xml = readFileSync(MODEL_PATH, 'utf8');
  const engineOptions = opts.parseEach ? { source: xml } : { sourceContext: await serializeOnce(xml) };

  let seq = 0;
  let finished = false;
  // An instance that never reaches 'end' leaves no pending work, so Node would
  // quietly exit mid-run; say so and fail instead.
  process.on('exit', (code) => {
    if (!finished && code === 0) {
      process.stderr.write(`bpmn-engine bench: instance ${seq} never reached 'end'\n`);
      process.exitCode = 1;
    }
  });

  for (let i = 0; i < opts.warmup; i++) await runInstance(engineOptions, ++seq);

  let measured = 0;
  const cpuStart = process.cpuUsage();
  const start = process.hrtime.bigint();
  let elapsedNs = 0n;
  if (opts.instances) {
    for (; measured < opts.instances; measured++) await runInstance(engineOptions, ++seq);
    elapsedNs = process.hrtime.bigint() - start;
  } else {
    const budgetNs = BigInt(Math.round(opts.seconds * 1e9));
    do {
      await runInstance(engineOptions, ++seq);
      measured++;
      elapsedNs = process.hrtime.bigint() - start;
    } while (elapsedNs < budgetNs);
  }
  finished = true;
  const cpu = process.cpuUsage(cpuStart);

  const seconds = Number(elapsedNs) / 1e9;
  const result = {
    engine: 'bpmn-engine',
    version: engineVersion(),
    instances: measured,
    seconds: Number(seconds.toFixed(3)),
    instances_per_second: Number((measured / seconds).toFixed(1)),
    reviews: REVIEWS.length,
  };
  if (opts.parseEach) result.mode = 'parse-each';
  // CPU time of this process (all its threads, GC included) while measuring:
  // on a loaded machine wall-clock throughput drops, this figure much less.
  // On stderr, so that stdout stays the one JSON line.
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  process.stderr.write(
    `bpmn-engine bench: ${measured} instances in ${seconds.toFixed(3)} s wall, ` +
      `${cpuSeconds.toFixed(3)} s CPU (${(measured / cpuSeconds).toFixed(1)} instances per CPU second)\n`
  );
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((err) => fail(err?.stack || String(err)));
