'use strict';
// `dumps` of values that share objects, against CPython's `pickle.dumps` of the same
// values, in one run:
//
//     node bench/dumps_shared.js       (from bindings-node/, after a release build)
//
// The 50,000 records of `compare.js` as they are (nothing shared), each also holding
// one object all of them share, followed by the first record again (found only by the
// fingerprints, after the whole walk), and the whole list 16 times; then shapes that
// test how a trusting walk gives up (flatten.js): cycles, one small object many times,
// many small objects twice (the first call trusts, the next ones do not), chains deeper
// than a walk trusts (CPython's own recursion limit stops it near 500).
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
// A tree of 20,000 nodes whose children point back at their parent (cycles).
const root = { id: 0, parent: null, children: [] };
const nodes = [root];
for (let i = 1; i < 20000; i++) {
  const parent = nodes[Math.floor(i / 4)];
  const node = { id: i, parent, children: [] };
  parent.children.push(node);
  nodes.push(node);
}
const fifteen = Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`f${i}`, i]));
const lists = Array.from({ length: 50000 }, (_, i) => [i]);
const chains = Array.from({ length: 200 }, () => {
  let chain = null;
  for (let i = 0; i < 300; i++) chain = { v: i, next: chain };
  return chain;
});
const cases = {
  'records': records,
  'records sharing one object': records.map((r) => ({ ...r, owner })),
  'records, the first again at the end': [...records, records[0]],
  'the records list 16 times': Array(16).fill(records),
  'a tree with parent links': root,
  'one record of 15 fields 100,000 times': Array(100000).fill(fifteen),
  '50,000 small lists, each twice': lists.concat(lists),
  '200 chains 300 deep': chains,
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
