'use strict';
// Decoding speed of brinery.loads against npm's `pickleparser` and CPython's own
// `pickle.loads`, on the same CPython-made streams, in one run; then encoding speed of
// brinery.dumps of the values those streams hold against `JSON.stringify` of the same
// values and CPython's `pickle.dumps` (no npm package writes pickles):
//
//     node bench/compare.js            (from bindings-node/, after a release build)
//
// Prints MB/s (stream bytes per second of CPU time, best of all runs) and the ratios.
// The three libraries are timed in alternating rounds (brinery, pickleparser, then CPython in a
// subprocess), so a machine whose load changes during the run slows all of them alike;
// the load average is printed with the table. With BRINERY_BENCH_ASSERT=1 it exits
// non-zero when brinery is under 3x pickleparser or under CPython on any stream;
// BRINERY_BENCH_QUICK=1 runs shorter rounds; BRINERY_BENCH_ROUNDS sets their number (3).

const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const brinery = require('..');
const { Parser } = require('pickleparser');

const python = process.env.BRINERY_PYTHON || 'python3';
const script = path.join(__dirname, 'cpython_loads.py');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'brinery-bench-'));
execFileSync(python, [script, 'gen', dir]);
const names = ['strings', 'ints', 'records'];
const files = names.map((n) => path.join(dir, `${n}.pickle`));

const QUICK = process.env.BRINERY_BENCH_QUICK === '1';
const ROUNDS = Number(process.env.BRINERY_BENCH_ROUNDS) || 3;
// Time per library, stream and round.
const MIN_MS = QUICK ? 100 : 400;

// CPU time of this process in ms (every thread, so V8's helper threads count): on a
// shared machine, wall time mostly measures the other processes.
function cpuMs() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function bestRate(fn, data, minMs = MIN_MS) {
  fn(data);
  let best = Infinity;
  let spent = 0;
  let runs = 0;
  while (spent < minMs || runs < 3) {
    const t0 = cpuMs();
    fn(data);
    const dt = Math.max(cpuMs() - t0, 0.001);
    best = Math.min(best, dt);
    spent += dt;
    runs++;
  }
  return data.length / (best / 1000) / 1e6;
}

const parser = new Parser();
const datas = files.map((f) => fs.readFileSync(f));
const best = names.map(() => ({ b: 0, p: 0, c: 0 }));
const loads = [os.loadavg()[0]];
for (let round = 0; round < ROUNDS; round++) {
  for (let i = 0; i < names.length; i++) {
    best[i].b = Math.max(best[i].b, bestRate((d) => brinery.loads(d), datas[i]));
    best[i].p = Math.max(best[i].p, bestRate((d) => parser.parse(d), datas[i]));
  }
  const cpython = JSON.parse(
    execFileSync(python, [script, 'time', ...files], {
      env: { ...process.env, BRINERY_BENCH_MIN_TIME: String(MIN_MS / 1000) },
    }).toString(),
  );
  for (let i = 0; i < names.length; i++) best[i].c = Math.max(best[i].c, cpython[files[i]]);
  loads.push(os.loadavg()[0]);
}
const rows = [];
let ok = true;
for (let i = 0; i < names.length; i++) {
  const { b, p, c } = best[i];
  rows.push({
    stream: names[i],
    'size MB': +(datas[i].length / 1e6).toFixed(2),
    'brinery MB/s': +b.toFixed(1),
    'pickleparser MB/s': +p.toFixed(1),
    'CPython MB/s': +c.toFixed(1),
    'vs pickleparser': `${(b / p).toFixed(2)}x`,
    'vs CPython': `${(b / c).toFixed(2)}x`,
  });
  if (b < 3 * p || b < c) ok = false;
}
console.table(rows);
console.log(`${ROUNDS} rounds; 1-minute load average ${loads.map((l) => l.toFixed(1)).join(' -> ')} on ${os.cpus().length} CPUs`);

// dumps: MB/s of the pickle stream written (JSON.stringify: of the stream brinery
// writes, so the three rates compare time for the same values).
const values = datas.map((d) => brinery.loads(d));
const sizes = values.map((v) => brinery.dumps(v).length);
const dbest = names.map(() => ({ b: 0, j: 0, c: 0 }));
const dloads = [os.loadavg()[0]];
const timeDumps = (fn, i) => {
  const r = bestRate(fn, values[i]);
  return (r * sizes[i]) / values[i].length;
};
for (let round = 0; round < ROUNDS; round++) {
  for (let i = 0; i < names.length; i++) {
    dbest[i].b = Math.max(dbest[i].b, timeDumps((v) => brinery.dumps(v), i));
    dbest[i].j = Math.max(dbest[i].j, timeDumps((v) => JSON.stringify(v), i));
  }
  const cpython = JSON.parse(
    execFileSync(python, [script, 'dumps', ...files], {
      env: { ...process.env, BRINERY_BENCH_MIN_TIME: String(MIN_MS / 1000) },
    }).toString(),
  );
  // CPython's rate is of its own stream; brinery's is byte for byte the same size or
  // near it, so scale to brinery's to compare time for the same value.
  for (let i = 0; i < names.length; i++) {
    dbest[i].c = Math.max(dbest[i].c, (cpython[files[i]] * sizes[i]) / datas[i].length);
  }
  dloads.push(os.loadavg()[0]);
}
fs.rmSync(dir, { recursive: true, force: true });
console.table(
  names.map((name, i) => {
    const { b, j, c } = dbest[i];
    return {
      dumps: name,
      'brinery MB/s': +b.toFixed(1),
      'JSON.stringify MB/s': +j.toFixed(1),
      'CPython dumps MB/s': +c.toFixed(1),
      'vs JSON.stringify': `${(b / j).toFixed(2)}x`,
      'vs CPython': `${(b / c).toFixed(2)}x`,
    };
  }),
);
console.log(`dumps: ${ROUNDS} rounds; 1-minute load average ${dloads.map((l) => l.toFixed(1)).join(' -> ')}`);

// What each library makes of values pickleparser is known to get wrong (streams by CPython).
const tricky = {
  '-2**40': ['80049509000000000000008a060000000000ff2e', (v) => v === -(2 ** 40)],
  '2**70': ['8004950c000000000000008a090000000000000000402e', (v) => v === 2n ** 70n],
  "{'__proto__': {'polluted': 1}}": [
    '80049520000000000000007d948c095f5f70726f746f5f5f947d948c08706f6c6c75746564944b0173732e',
    (v) => Object.getPrototypeOf(v) === Object.prototype && v.polluted === undefined,
  ],
};
const verdict = (fn, hex, ok) => {
  try {
    return ok(fn(Buffer.from(hex, 'hex'))) ? 'right' : 'WRONG';
  } catch (e) {
    return `throws (${e.message.slice(0, 40)})`;
  }
};
console.table(
  Object.entries(tricky).map(([value, [hex, ok]]) => ({
    value,
    brinery: verdict((d) => brinery.loads(d), hex, ok),
    pickleparser: verdict((d) => parser.parse(d), hex, ok),
  })),
);
if (!ok) {
  console.log('brinery is under 3x pickleparser or under CPython on some stream');
  if (process.env.BRINERY_BENCH_ASSERT === '1') process.exitCode = 1;
}
