'use strict';
// Hostile and malformed input: every failure is an Error with a stable ERR_BRINERY_*
// code (and the byte offset when it is about a position), never a crash, a hang or a
// polluted prototype.

const test = require('node:test');
const assert = require('node:assert/strict');
const { loads, dumps, dis } = require('..');

const coded = (code) => (e) => {
  assert.ok(e instanceof Error, 'an Error');
  if (code) assert.equal(e.code, code, e.message);
  else assert.match(e.code, /^ERR_BRINERY_[A-Z0-9_]+$/, e.message);
  return true;
};

const u64 = (n) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
};

test('every truncation of a valid stream is a coded error with an offset', () => {
  const value = { list: [1, 2.5, 'three', Buffer.from('four')], nested: { deep: [[[null]]] }, big: 2n ** 80n };
  for (let protocol = 0; protocol <= 5; protocol++) {
    const data = dumps(value, { protocol });
    for (let cut = 0; cut < data.length; cut++) {
      assert.throws(
        () => loads(data.subarray(0, cut)),
        (e) => {
          coded()(e);
          assert.equal(typeof e.offset, 'number', `offset for cut ${cut}`);
          assert.ok(e.offset <= cut, `offset ${e.offset} within ${cut}`);
          return true;
        },
        `protocol ${protocol} cut ${cut}`,
      );
    }
  }
});

test('the error names the problem and its byte offset', () => {
  assert.throws(() => loads(Buffer.from([0x80, 0x04, 0xff])), (e) => {
    coded('ERR_BRINERY_UNKNOWN_OPCODE')(e);
    assert.equal(e.offset, 2);
    assert.match(e.message, /0xff/);
    return true;
  });
  assert.throws(() => loads(Buffer.from([0x80, 0x09, 0x4e, 0x2e])), coded('ERR_BRINERY_PROTOCOL'));
  assert.throws(() => loads(Buffer.from([0x68, 0x07, 0x2e])), coded('ERR_BRINERY_MEMO'));
  assert.throws(() => loads(Buffer.alloc(0)), coded('ERR_BRINERY_TRUNCATED'));
});

test('huge length claims fail without allocating', () => {
  const claims = [
    Buffer.concat([Buffer.from([0x80, 0x04, 0x8d]), u64(2n ** 62n), Buffer.from('abc')]), // BINUNICODE8
    Buffer.concat([Buffer.from([0x80, 0x04, 0x8e]), u64(2n ** 40n), Buffer.from('abc')]), // BINBYTES8
    Buffer.concat([Buffer.from([0x80, 0x05, 0x96]), u64(2n ** 63n), Buffer.from('abc')]), // BYTEARRAY8
    Buffer.from([0x80, 0x03, 0x58, 0xff, 0xff, 0xff, 0x7f, 0x61]), // BINUNICODE 2 GiB
    Buffer.from([0x80, 0x02, 0x8b, 0xff, 0xff, 0xff, 0x7f, 0x01]), // LONG4 2 GiB
    Buffer.concat([Buffer.from([0x80, 0x04, 0x95]), u64(2n ** 60n), Buffer.from([0x4e, 0x2e])]), // FRAME
  ];
  for (const data of claims) assert.throws(() => loads(data), coded());
});

test('deep nesting is a coded error, not a stack overflow', () => {
  const depth = 200000;
  // PROTO 4, EMPTY_LIST x depth, APPEND x (depth - 1), STOP: lists nested depth deep.
  const data = Buffer.concat([Buffer.from([0x80, 0x04]), Buffer.alloc(depth, 0x5d), Buffer.alloc(depth - 1, 0x61), Buffer.from([0x2e])]);
  assert.throws(() => loads(data), (e) => coded()(e) && /TOO_DEEP|LIMIT/.test(e.code));
  // MARK x depth then STOP.
  assert.throws(() => loads(Buffer.concat([Buffer.alloc(depth, 0x28), Buffer.from([0x2e])])), coded());
  // Within the limit it decodes.
  const ok = Buffer.concat([Buffer.from([0x80, 0x04]), Buffer.alloc(500, 0x5d), Buffer.alloc(499, 0x61), Buffer.from([0x2e])]);
  let v = loads(ok);
  for (let i = 0; i < 499; i++) v = v[0];
  assert.deepEqual(v, []);
  assert.throws(() => loads(ok, { maxDepth: 100 }), coded());
});

test('a __proto__ key never touches a prototype', () => {
  // pickle.dumps({'__proto__': {'polluted': 1}, 'constructor': 2}, 4)
  const data = dumps({ x: 1 }); // warm up the addon; the stream below is CPython's
  assert.ok(data.length > 0);
  const stream = Buffer.from(
    '80049531000000000000007d94288c095f5f70726f746f5f5f947d948c08706f6c6c75746564944b01738c0b636f6e7374727563746f72944b02752e',
    'hex',
  );
  for (const dict of [undefined, 'object', 'auto']) {
    const v = loads(stream, { dict });
    assert.equal(Object.getPrototypeOf(v), Object.prototype);
    assert.equal(v.polluted, undefined);
    assert.ok(Object.prototype.hasOwnProperty.call(v, '__proto__'));
    assert.deepEqual(Object.keys(v), ['__proto__', 'constructor']);
    assert.equal(v.__proto__.polluted, 1); // the own property, not the prototype
    assert.equal(v.constructor, 2);
    assert.equal({}.polluted, undefined);
  }
  const m = loads(stream, { dict: 'map' });
  assert.ok(m instanceof Map);
  assert.deepEqual(m.get('__proto__'), new Map([['polluted', 1]]));
  // Through BUILD state into a mapped class, too.
  class Target {}
  // brinery_vectors.Target() with state {'__proto__': {'polluted': 1}}, protocol 4.
  const built = Buffer.from(
    '80049541000000000000008c0f6272696e6572795f766563746f7273948c065461726765749493942981947d948c095f5f70726f746f5f5f947d948c08706f6c6c75746564944b017373622e',
    'hex',
  );
  const t = loads(built, { classes: { 'brinery_vectors.Target': Target } });
  assert.ok(t instanceof Target);
  assert.equal(Object.getPrototypeOf(t), Target.prototype);
  assert.equal(t.polluted, undefined);
  assert.deepEqual(t.__proto__, { polluted: 1 });
  assert.equal({}.polluted, undefined);
});

test('unknown globals are refused by name and never called', () => {
  // GLOBAL 'os system' (protocol 0), (S'echo hi' tR.
  const data = Buffer.from("cos\nsystem\n(S'echo pwned'\ntR.", 'latin1');
  assert.throws(() => loads(data), (e) => coded('ERR_BRINERY_UNKNOWN_GLOBAL')(e) && /os\.system/.test(e.message));
  assert.deepEqual(loads(data, { allowUnknown: true }), { $global: 'os.system', args: ['echo pwned'], state: null });
});

test('random and mutated streams give values or coded errors', () => {
  let seed = 12345;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed;
  };
  const base = [
    dumps({ a: [1, 2, 3], b: 'text', c: new Map([[1, new Set([2])]]), d: 2n ** 100n }, { protocol: 5 }),
    dumps([1.5, 'x', [null, true]], { protocol: 2 }),
    dumps({ k: 'v' }, { protocol: 0 }),
  ];
  for (let i = 0; i < 3000; i++) {
    const src = base[i % base.length];
    const data = Buffer.from(src);
    const flips = 1 + (rand() % 4);
    for (let f = 0; f < flips; f++) data[rand() % data.length] = rand() & 0xff;
    const cut = i % 7 === 0 ? data.subarray(0, rand() % data.length) : data;
    try {
      loads(cut, { allowUnknown: true });
    } catch (e) {
      coded()(e);
    }
    try {
      dis(cut);
    } catch (e) {
      coded()(e);
    }
  }
  for (let i = 0; i < 1000; i++) {
    const data = Buffer.alloc(1 + (rand() % 64));
    for (let j = 0; j < data.length; j++) data[j] = rand() & 0xff;
    try {
      loads(data, { allowUnknown: true });
    } catch (e) {
      coded()(e);
    }
  }
});

test('a Python 2 str that is not ASCII is ERR_BRINERY_BAD_UTF8, as documented', () => {
  // The core's table groups NON_ASCII with BAD_UTF8 (it was ERR_BRINERY_MALFORMED).
  const py2 = Buffer.from([0x55, 0x03, 0xe9, 0x74, 0xe9, 0x2e]); // U\x03\xe9t\xe9.
  assert.throws(() => loads(py2), (e) => coded('ERR_BRINERY_BAD_UTF8')(e) && e.offset === 0);
  assert.equal(loads(py2, { encoding: 'latin1' }), '\u00e9t\u00e9');
});

test('bad arguments are coded errors', () => {
  assert.throws(() => loads('not bytes'), coded('ERR_BRINERY_BAD_ARGUMENT'));
  assert.throws(() => loads(Buffer.from('N.'), { dict: 'array' }), coded('ERR_BRINERY_BAD_ARGUMENT'));
  assert.throws(() => loads(Buffer.from('N.'), { encoding: 'utf-32' }), coded('ERR_BRINERY_BAD_ARGUMENT'));
  assert.throws(() => loads(Buffer.from('N.'), { classes: { x: 1 } }), coded('ERR_BRINERY_BAD_ARGUMENT'));
  assert.throws(() => dumps(1, { protocol: 6 }), coded('ERR_BRINERY_PROTOCOL'));
  assert.throws(() => dumps(() => 1), coded('ERR_BRINERY_UNSUPPORTED_TYPE'));
  assert.throws(() => dumps([Symbol('s')]), coded('ERR_BRINERY_UNSUPPORTED_TYPE'));
  assert.throws(() => dumps(new Float32Array(2)), coded('ERR_BRINERY_UNSUPPORTED_TYPE'));
  assert.throws(() => dumps(new Date(NaN)), coded('ERR_BRINERY_ENCODE'));
  const deep = [];
  let cur = deep;
  for (let i = 0; i < 5000; i++) cur = cur[0] = [];
  assert.throws(() => dumps(deep), coded('ERR_BRINERY_TOO_DEEP'));
  const getterThrows = {
    get boom() {
      throw new RangeError('from a getter');
    },
  };
  assert.throws(() => dumps(getterThrows), RangeError);
});

test('big ints are exact', () => {
  assert.equal(loads(dumps(-(2 ** 40))), -(2 ** 40));
  assert.equal(loads(dumps(2n ** 70n)), 2n ** 70n);
  // LONG1 as CPython writes them: -2**40 and 2**70.
  assert.equal(loads(Buffer.from('80049509000000000000008a060000000000ff2e', 'hex')), -(2 ** 40));
  assert.equal(loads(Buffer.from('8004950c000000000000008a090000000000000000402e', 'hex')), 2n ** 70n);
  assert.equal(loads(dumps(2n ** 53n)), 2n ** 53n);
  assert.equal(loads(dumps(-(2n ** 63n))), -(2n ** 63n));
  assert.equal(loads(dumps(2 ** 53 - 1)), 2 ** 53 - 1);
});

test('memo and allocation limits bound what a short stream can cost', () => {
  // 1 KB of MEMOIZE after one list: a thousand memo entries.
  const flood = Buffer.concat([Buffer.from([0x80, 4, 0x5d]), Buffer.alloc(1000, 0x94), Buffer.from('.')]);
  assert.ok(Array.isArray(loads(flood)), 'the default memo bound is the stream length');
  assert.throws(() => loads(flood, { maxMemo: 100 }), coded('ERR_BRINERY_LIMIT'));
  // A 2,000-byte string against a 1,000-byte allocation bound.
  const big = dumps('x'.repeat(2000), { protocol: 4 });
  assert.equal(loads(big).length, 2000);
  assert.throws(() => loads(big, { maxAlloc: 1000 }), coded('ERR_BRINERY_LIMIT'));
  assert.equal(loads(big, { maxAlloc: Infinity }).length, 2000);
  // A list holding itself 1,000 times (memo GETs) stays one shared JS object.
  const gets = Buffer.concat([
    Buffer.from([0x80, 4, 0x5d, 0x94, 0x28]),
    Buffer.concat(Array.from({ length: 1000 }, () => Buffer.from([0x68, 0]))),
    Buffer.from([0x65, 0x2e]),
  ]);
  const self = loads(gets);
  assert.equal(self.length, 1000);
  assert.ok(self.every((item) => item === self));
});

test('a dumps tape nested deeper than any walk makes is refused, not a stack overflow', () => {
  // The native half of dumps, given tapes flatten.js never writes: 100,000 lists one in
  // another, and as many SHARED marks in a row (op codes of src/encode.rs).
  const file = `brinery.${process.platform}-${process.arch}${process.platform === 'linux' ? '-gnu' : ''}.node`;
  const native = require(require('node:path').join(__dirname, '..', file));
  for (const code of [8, 18]) {
    const ops = new Float64Array(2 * 100001);
    for (let i = 0; i < 100000; i++) ops.set([code, 1], 2 * i);
    assert.throws(
      () => native.dumpsTape(ops, ops.length, Buffer.alloc(0), 0, true, [], 4, new Uint32Array(200002)),
      (e) => e.code === 'ERR_BRINERY_BAD_ARGUMENT' && /malformed/.test(e.message),
    );
  }
});

test('a second replay gives up on a later visit holding what its first did not', () => {
  const file = `brinery.${process.platform}-${process.arch}${process.platform === 'linux' ? '-gnu' : ''}.node`;
  const native = require(require('node:path').join(__dirname, '..', file));
  // [[], {a: 1}], its dict said to be a later visit of the empty list: the dict sends
  // the key `a` for the first time (op codes of src/encode.rs: LIST 8, DICT 9, KEY 15,
  // INT 3).
  const ops = new Float64Array([8, 2, 8, 0, 9, 1, 15, 1, 3, 1]);
  const text = Buffer.from('a');
  const replay = (skips) => native.dumpsTape(ops, ops.length, text, 1, true, [], 4, null, skips);
  assert.equal(replay(new Uint32Array([2, 1])), null);
  // Without skips it is the stream of [[], {'a': 1}]; skips out of order are malformed.
  assert.ok(replay(null).includes(Buffer.from('a')));
  for (const bad of [[2, 1, 1, 0], [1, 1], [2]]) {
    assert.throws(() => replay(new Uint32Array(bad)), (e) => e.code === 'ERR_BRINERY_BAD_ARGUMENT');
  }
});
