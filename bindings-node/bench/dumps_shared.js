'use strict';
// `dumps` of values that share objects, against CPython's `pickle.dumps` of the same
// values, in one run:
//
//     node bench/dumps_shared.js       (from bindings-node/, after a release build)
//
// The 50,000 records of `compare.js` as they are (nothing shared), each also holding
// one object all of them share (found by the first walk's sampled check), and followed
// by the first record again (found only by the fingerprints, after the whole walk).
// CPython times `pickle.dumps` of what it loads from brinery's stream of each, so both
// write the same graph, sharing included. CPU time, best run, as `compare.js`.

const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const brinery = require('..');

const python = process.env.BRINERY_PYTHON || 'python3';
const script = path.join(__dirname, 'cpython_loads.py');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'brinery-shared-'));
execFileSync(python, [script, 'gen', dir]);
const records = brinery.loads(fs.readFileSync(path.join(dir, 'records.pickle')));
const owner = { name: 'owner', id: 0 };
const cases = {
  'records': records,
  'records sharing one object': records.map((r) => ({ ...r, owner })),
  'records, the first again at the end': [...records, records[0]],
};
const MIN_MS = process.env.BRINERY_BENCH_QUICK === '1' ? 100 : 400;
const ROUNDS = Number(process.env.BRINERY_BENCH_ROUNDS) || 3;

function cpuMs() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function bestMs(fn) {
  fn();
  let best = Infinity;
  let spent = 0;
  for (let runs = 0; spent < MIN_MS || runs < 3; runs++) {
    const t0 = cpuMs();
    fn();
    const dt = cpuMs() - t0;
    best = Math.min(best, dt);
    spent += dt;
  }
  return best;
}

const names = Object.keys(cases);
const files = names.map((name, i) => {
  const file = path.join(dir, `shared-${i}.pickle`);
  fs.writeFileSync(file, brinery.dumps(cases[name]));
  return file;
});
const best = names.map(() => ({ b: Infinity, c: Infinity }));
for (let round = 0; round < ROUNDS; round++) {
  names.forEach((name, i) => {
    best[i].b = Math.min(best[i].b, bestMs(() => brinery.dumps(cases[name])));
  });
  const rates = JSON.parse(
    execFileSync(python, [script, 'dumps', ...files], {
      env: { ...process.env, BRINERY_BENCH_MIN_TIME: String(MIN_MS / 1000) },
    }).toString(),
  );
  // MB/s of CPython's own stream, back to ms.
  files.forEach((file, i) => {
    const size = fs.statSync(file).size;
    best[i].c = Math.min(best[i].c, (size / rates[file] / 1e6) * 1000);
  });
}
fs.rmSync(dir, { recursive: true, force: true });
console.table(
  names.map((name, i) => ({
    dumps: name,
    'brinery ms': +best[i].b.toFixed(2),
    'CPython ms': +best[i].c.toFixed(2),
    'speed vs CPython': `${(best[i].c / best[i].b).toFixed(2)}x`,
  })),
);
console.log(`${ROUNDS} rounds; 1-minute load average ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} CPUs`);
