'use strict';
// Bounded mutation fuzzing of `loads` (and `dis`): a few thousand streams made by
// flipping, inserting, deleting and truncating bytes of the shared CPython vectors and
// of the malicious corpus. Every outcome must be a value or an Error with a stable
// ERR_BRINERY_* code, never a crash, a hang or another kind of exception; a fixed seed
// keeps failures reproducible. Also checks that 1 KB hostile streams cannot make the
// loader allocate more than a bound.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { loads, dis } = require('..');

const VECTORS = path.join(__dirname, '..', '..', 'core', 'tests', 'vectors');
const ITERATIONS = 10000;
const BUDGET_MS = 15000;

function seeds() {
  const out = [];
  for (const dir of [VECTORS, path.join(VECTORS, 'malicious')]) {
    for (const f of fs.readdirSync(dir).sort()) {
      if (!f.endsWith('.pickle')) continue;
      const b = fs.readFileSync(path.join(dir, f));
      if (b.length <= 2048) out.push(b);
    }
  }
  return out;
}

// xorshift32: deterministic across runs and platforms.
function rng(seed) {
  let s = seed >>> 0 || 1;
  return (n) => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s % n;
  };
}

function mutate(buf, r) {
  let b = Buffer.from(buf);
  const edits = 1 + r(4);
  for (let i = 0; i < edits; i++) {
    const at = b.length ? r(b.length) : 0;
    switch (r(5)) {
      case 0: if (b.length) b[at] = r(256); break;
      case 1: if (b.length) b[at] ^= 1 << r(8); break;
      case 2: b = Buffer.concat([b.subarray(0, at), Buffer.from([r(256)]), b.subarray(at)]); break;
      case 3: b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1)]); break;
      default: b = b.subarray(0, at); break;
    }
  }
  return b;
}

function expectCodedOrValue(fn, data) {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof Error, `non-Error thrown for ${data.toString('hex')}`);
    assert.match(String(e.code), /^ERR_BRINERY_[A-Z0-9_]+$/, `${e.message} for ${data.toString('hex')}`);
  }
}

test('mutated vectors only ever give values or coded errors', () => {
  const pool = seeds();
  assert.ok(pool.length > 100, `only ${pool.length} seeds`);
  const r = rng(0xb51e);
  const start = Date.now();
  let n = 0;
  for (; n < ITERATIONS && Date.now() - start < BUDGET_MS; n++) {
    const data = mutate(pool[r(pool.length)], r);
    expectCodedOrValue(() => loads(data), data);
    expectCodedOrValue(() => loads(data, { allowUnknown: true, maxDepth: 50 }), data);
    if (n % 4 === 0) expectCodedOrValue(() => dis(data), data);
  }
  assert.ok(n >= 1000, `only ${n} iterations within the time budget`);
});

test('random byte strings only ever give values or coded errors', () => {
  const r = rng(7);
  for (let n = 0; n < 2000; n++) {
    const data = Buffer.alloc(r(64));
    for (let i = 0; i < data.length; i++) data[i] = r(256);
    if (n % 2) data[0] = 0x80;
    expectCodedOrValue(() => loads(data, { allowUnknown: true }), data);
  }
});

function hostileKilobyteStreams() {
  const kb = 1024;
  const rep = (s, n) => Buffer.alloc(n, s);
  const streams = {
    // EMPTY_SET opcodes appended to one list: the most object per input byte.
    sets: Buffer.concat([Buffer.from([0x80, 4, 0x5d, 0x28]), rep(0x8f, kb - 7), Buffer.from('e.')]),
    // One list DUPed then APPENDed into itself, over and over.
    dups: Buffer.concat([Buffer.from([0x80, 2, 0x5d]), rep('2a', kb - 4), Buffer.from('.')]),
    // A far memo key, then GETs of it.
    memo: Buffer.concat([Buffer.from([0x80, 2, 0x4e, 0x72, 0xff, 0xff, 0xff, 0x7f, 0x28]),
      Buffer.from('j\xff\xff\xff\x7f'.repeat(200), 'latin1'), Buffer.from('l.')]),
    // A length claiming 4 GiB in a 1 KB stream.
    claim: Buffer.concat([Buffer.from([0x80, 4, 0x8e]), Buffer.from([0, 0, 0, 0, 1, 0, 0, 0]), rep(0x41, kb - 12), Buffer.from('.')]),
    // Nested lists without marks.
    deep: Buffer.concat([Buffer.from([0x80, 2]), rep(0x5d, 510), rep(0x61, 509), Buffer.from('.')]),
  };
  return streams;
}

test('a 1 KB stream cannot make loads allocate more than a bound', () => {
  const BOUND = 64 * 1024 * 1024;
  for (const [name, data] of Object.entries(hostileKilobyteStreams())) {
    assert.ok(data.length <= 1100, `${name} is ${data.length} bytes`);
    global.gc?.();
    const before = process.memoryUsage();
    let kept;
    expectCodedOrValue(() => { kept = loads(data, { allowUnknown: true }); }, data);
    const after = process.memoryUsage();
    const grew = (after.rss - before.rss) + (after.external - before.external);
    assert.ok(grew < BOUND, `${name}: grew by ${grew} bytes`);
    kept = undefined;
  }
});
