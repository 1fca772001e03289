'use strict';
// Random values through `dumps`: nested records of many shapes (a record's first values
// may define shapes of their own), lists, Maps, Sets, scalars of every kind, objects
// reached twice (shared early, late, inside one another) and cycles. Each value must
// come back from `loads` with the same structure, sharing included (a bijection between
// the objects of the value and those decoded), and so must CPython's reading of each
// stream, written back by CPython (one subprocess for all). A fixed seed keeps failures
// reproducible. Covers what a walk that trusts no object to repeat must not get wrong:
// which objects are one (`flatten.js`, `src/prints.rs`), and which keys each shape has.

const test = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const { dumps, loads } = require('..');

const python = process.env.BRINERY_PYTHON || 'python3';

function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return s / 2 ** 32;
  };
}

const KEYS = ['id', 'name', 'a', 'b', 'tags', 'x', 'é', '0', '10', 'k'];

function generate(seed, budget) {
  const r = rng(seed);
  const pick = (xs) => xs[Math.floor(r() * xs.length)];
  const made = [];
  let left = budget;
  function scalar() {
    switch (Math.floor(r() * 10)) {
      case 0: return Math.floor(r() * 2 ** 40) - 2 ** 39;
      case 1: return r() * 1000 - 500;
      case 2: return pick(['', 'w', 'word', 'h\u00e9llo', '\ud83d\ude00', 'x'.repeat(20 + Math.floor(r() * 30))]);
      case 3: return r() < 0.5;
      case 4: return null;
      case 5: return BigInt(Math.floor(r() * 1e9)) ** 3n;
      case 6: return Buffer.from([1, 2, Math.floor(r() * 256)]);
      case 7: return new Date(Date.UTC(2000 + Math.floor(r() * 20), 1, 2, 3, 4, 5, 6));
      default: return Math.floor(r() * 300);
    }
  }
  function value(depth) {
    if (made.length > 0 && r() < 0.08) return pick(made);
    if (depth > 5 || left <= 0 || r() < 0.35) return scalar();
    left--;
    let v;
    const kind = Math.floor(r() * 5);
    if (kind === 0 || kind === 1) {
      v = {};
      const n = Math.floor(r() * 5);
      for (let i = 0; i < n; i++) v[pick(KEYS)] = value(depth + 1);
    } else if (kind === 2) {
      v = [];
      made.push(v);
      const n = Math.floor(r() * 6);
      for (let i = 0; i < n; i++) v.push(value(depth + 1));
      // A cycle now and then: the list holds an object it is inside of.
      if (r() < 0.1) v.push(pick(made));
      return v;
    } else if (kind === 3) {
      v = new Map();
      const n = Math.floor(r() * 4);
      for (let i = 0; i < n; i++) v.set(pick([1, 2, 'k', 'key', 3.5]), value(depth + 1));
    } else {
      v = new Set();
      const n = Math.floor(r() * 4);
      // No `true` beside 1: Python's set would hold one of them.
      for (let i = 0; i < n; i++) v.add(pick([1, 2, 'k', 'key', 3.5, 'true']));
    }
    made.push(v);
    return v;
  }
  const top = [];
  while (left > 0) top.push(value(0));
  if (r() < 0.5 && made.length > 0) top.push(pick(made));
  return top;
}

// Asserts that `b` (decoded) has the structure of `a` (given), object for object.
function same(a, b, pairs = new Map(), path = '$') {
  if (a === undefined) a = null;
  if (a === null || typeof a !== 'object') {
    if (typeof a === 'bigint') assert.equal(BigInt(b), a, path);
    else assert.ok(Object.is(a, b), `${path}: ${String(a)} vs ${String(b)}`);
    return;
  }
  assert.ok(b !== null && typeof b === 'object', `${path}: an object`);
  if (pairs.has(a)) {
    assert.equal(pairs.get(a), b, `${path}: the same object again`);
    return;
  }
  assert.ok(![...pairs.values()].includes(b) || pairs.get(a) === b, `${path}: a new object`);
  pairs.set(a, b);
  if (a instanceof Uint8Array) {
    assert.deepEqual(Buffer.from(b), Buffer.from(a), path);
  } else if (a instanceof Date) {
    assert.equal(b.getTime(), a.getTime(), path);
  } else if (Array.isArray(a)) {
    assert.ok(Array.isArray(b), `${path}: a list`);
    assert.equal(b.length, a.length, path);
    a.forEach((x, i) => same(x, b[i], pairs, `${path}[${i}]`));
  } else if (a instanceof Set) {
    assert.deepEqual([...b].map(String).sort(), [...a].map(String).sort(), path);
  } else {
    const ea = a instanceof Map ? [...a] : Object.entries(a);
    const eb = b instanceof Map ? [...b] : Object.entries(b);
    assert.deepEqual(eb.map(([k]) => String(k)), ea.map(([k]) => String(k)), `${path}: keys`);
    ea.forEach(([k, x], i) => same(x, eb[i][1], pairs, `${path}.${String(k)}`));
  }
}

test('random values keep their structure and sharing through dumps and loads', () => {
  const streams = [];
  const values = [];
  for (let seed = 1; seed <= 300; seed++) {
    // Mostly small (up to 16 objects are compared in JavaScript); every tenth value is
    // large enough for the native fingerprints, every hundredth for the walk's sampled
    // checks (more than 8,192 objects).
    const budget = seed % 100 === 0 ? 12000 : seed % 10 === 0 ? 1500 : 3 + (seed % 40);
    const value = generate(seed, budget);
    for (const protocol of [2, 4, 5]) {
      const data = dumps(value, { protocol });
      same(value, loads(data, { dict: 'map' }), new Map(), `seed ${seed} protocol ${protocol}`);
      if (protocol === 4) {
        streams.push(data.toString('base64'));
        values.push(value);
      }
    }
  }
  // CPython reads every stream and writes it back; the structure survives both ways.
  const back = execFileSync(python, ['-c', `
import base64, pickle, sys
for line in sys.stdin.read().split():
    print(base64.b64encode(pickle.dumps(pickle.loads(base64.b64decode(line)), 4)).decode())
`], { input: streams.join('\n'), maxBuffer: 1 << 28 }).toString().trim().split('\n');
  assert.equal(back.length, values.length);
  back.forEach((b64, i) => same(values[i], loads(Buffer.from(b64, 'base64'), { dict: 'map' }), new Map(), `CPython ${i}`));
});
