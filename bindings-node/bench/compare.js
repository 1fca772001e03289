'use strict';
// Decoding speed of brinery.loads against npm's `pickleparser` and CPython's own
// `pickle.loads`, on the same CPython-made streams, in one run:
//
//     node bench/compare.js            (from bindings-node/, after a release build)
//
// Prints MB/s (best of repeated runs, stream bytes per second) and the ratios. With
// BRINERY_BENCH_ASSERT=1 it exits non-zero when brinery is under 3x pickleparser or
// under CPython on any stream; BRINERY_BENCH_QUICK=1 times each for 0.2 s instead of 1 s.

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

const MIN_MS = process.env.BRINERY_BENCH_QUICK === '1' ? 200 : 1000;

function bestRate(fn, data, minMs = MIN_MS) {
  fn(data);
  let best = Infinity;
  let spent = 0;
  let runs = 0;
  while (spent < minMs || runs < 5) {
    const t0 = process.hrtime.bigint();
    fn(data);
    const dt = Number(process.hrtime.bigint() - t0) / 1e6;
    best = Math.min(best, dt);
    spent += dt;
    runs++;
  }
  return data.length / (best / 1000) / 1e6;
}

const cpython = JSON.parse(execFileSync(python, [script, 'time', ...files]).toString());
const parser = new Parser();
const rows = [];
let ok = true;
for (let i = 0; i < names.length; i++) {
  const data = fs.readFileSync(files[i]);
  const b = bestRate((d) => brinery.loads(d), data);
  const p = bestRate((d) => parser.parse(d), data);
  const c = cpython[files[i]];
  rows.push({
    stream: names[i],
    'size MB': +(data.length / 1e6).toFixed(2),
    'brinery MB/s': +b.toFixed(1),
    'pickleparser MB/s': +p.toFixed(1),
    'CPython MB/s': +c.toFixed(1),
    'vs pickleparser': `${(b / p).toFixed(2)}x`,
    'vs CPython': `${(b / c).toFixed(2)}x`,
  });
  if (b < 3 * p || b < c) ok = false;
}
fs.rmSync(dir, { recursive: true, force: true });
console.table(rows);

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
