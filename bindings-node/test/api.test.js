'use strict';
// The option surface of loads/dumps, input types, and use from worker threads.

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { Worker } = require('node:worker_threads');
const { loads, dumps, HIGHEST_PROTOCOL, DEFAULT_PROTOCOL } = require('..');

test('constants', () => {
  assert.equal(HIGHEST_PROTOCOL, 5);
  assert.equal(DEFAULT_PROTOCOL, 4);
  assert.equal(dumps(null)[1], 4);
  assert.equal(dumps(null, { protocol: -1 })[1], 5);
});

test('dict option', () => {
  const data = dumps(new Map([['a', 1], [2, 'b']]));
  assert.deepEqual(loads(data), new Map([['a', 1], [2, 'b']]));
  assert.deepEqual(loads(data, { dict: 'object' }), { a: 1, 2: 'b' });
  const strKeys = dumps({ a: 1 });
  assert.deepEqual(loads(strKeys, { dict: 'map' }), new Map([['a', 1]]));
  assert.deepEqual(loads(strKeys, { dict: 'auto' }), { a: 1 });
});

test('inputs: Buffer, Uint8Array, ArrayBuffer, DataView; trailing bytes ignored', () => {
  const data = dumps([1, 'x']);
  const u8 = new Uint8Array(data);
  assert.deepEqual(loads(u8), [1, 'x']);
  assert.deepEqual(loads(u8.buffer), [1, 'x']);
  assert.deepEqual(loads(new DataView(u8.buffer)), [1, 'x']);
  assert.deepEqual(loads(Buffer.concat([data, Buffer.from('garbage')])), [1, 'x']);
});

test('tuples are plain arrays unless frozenTuples', () => {
  // pickle.dumps((1, 2), 2)
  const tuple = Buffer.from('80024b014b028671002e', 'hex');
  assert.ok(!Object.isFrozen(loads(tuple)));
  assert.ok(Object.isFrozen(loads(tuple, { frozenTuples: true })));
});

test('decoded bytes are independent Buffers of the right length', () => {
  const v = loads(dumps([Buffer.from('ab'), Buffer.from('cde')]));
  assert.deepEqual(v, [Buffer.from('ab'), Buffer.from('cde')]);
  v[0][0] = 0x7a;
  assert.deepEqual(v[1], Buffer.from('cde'));
});

test('works in worker threads', async () => {
  const index = path.join(__dirname, '..');
  const worker = new Worker(
    `const { loads, dumps } = require(${JSON.stringify(index)});
     require('node:worker_threads').parentPort.postMessage(loads(dumps({ a: [1, 2n ** 70n] })));`,
    { eval: true },
  );
  const message = await new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  assert.deepEqual(message, { a: [1, 2n ** 70n] });
  await worker.terminate();
});

test('a mapped function may return a primitive; state is then dropped', () => {
  const { execFileSync } = require('node:child_process');
  const data = execFileSync(process.env.BRINERY_PYTHON || 'python3', ['-c', `
import pickle, sys
class P:
    pass
P.__module__ = "m"
sys.modules["m"] = sys.modules["__main__"]
p = P(); p.x = 1
sys.stdout.buffer.write(pickle.dumps(p, 2))`]);
  assert.equal(loads(data, { classes: { 'm.P': () => 7 } }), 7);
  class P {
    __setstate__(state) {
      this.restored = state;
    }
  }
  assert.deepEqual(loads(data, { classes: { 'm.P': P } }).restored, { x: 1 });
});
