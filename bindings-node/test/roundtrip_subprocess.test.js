'use strict';
// Round trips through a real CPython (`python3`, or $BRINERY_PYTHON) in a subprocess:
// Node dumps at every protocol → stock `pickle.loads` (we check what Python sees with
// its repr) → `pickle.dumps` at the same protocol → Node loads → deep-equal to the
// original. Also Python → Node for values only CPython makes.

const test = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const { loads, dumps } = require('..');

const python = process.env.BRINERY_PYTHON || 'python3';

// Reads JSON lines {"hex": pickle, "protocol": p}; answers {"repr": ..., "hex": ...}.
const ECHO = `
import json, pickle, sys
for line in sys.stdin:
    req = json.loads(line)
    obj = pickle.loads(bytes.fromhex(req["hex"]))
    out = pickle.dumps(obj, protocol=req["protocol"])
    print(json.dumps({"repr": repr(obj), "hex": out.hex()}), flush=True)
`;

function throughPython(values, protocol) {
  const input = values.map((v) => JSON.stringify({ hex: dumps(v, { protocol }).toString('hex'), protocol })).join('\n');
  const out = execFileSync(python, ['-c', ECHO], { input: `${input}\n` }).toString().trim().split('\n');
  return out.map((line) => {
    const { repr, hex } = JSON.parse(line);
    return { repr, back: loads(Buffer.from(hex, 'hex')) };
  });
}

const shared = [1, 'two'];
const cyclic = [];
cyclic.push(cyclic);
const CASES = [
  [null, 'None'],
  [true, 'True'],
  [false, 'False'],
  [0, '0'],
  [-1, '-1'],
  [255, '255'],
  [65536, '65536'],
  [2 ** 31, '2147483648'],
  [-(2 ** 40), '-1099511627776'],
  [2 ** 53 - 1, '9007199254740991'],
  [2n ** 70n, '1180591620717411303424'],
  [-(2n ** 64n), '-18446744073709551616'],
  [1.5, '1.5'],
  [-0.5e-300, '-5e-301'],
  [Infinity, 'inf'],
  ['', "''"],
  ['héllo wörld €😀', "'héllo wörld €😀'"],
  ['lone \ud800 surrogate', "'lone \\ud800 surrogate'"],
  ['x'.repeat(70000), null],
  [Buffer.from([0, 1, 255]), "b'\\x00\\x01\\xff'"],
  [new Uint8Array([104, 105]), "b'hi'", Buffer.from('hi')],
  [[1, [2, [3]]], '[1, [2, [3]]]'],
  [Array.from({ length: 2500 }, (_, i) => i), null],
  [{ a: 1, b: 'c', 'key with space': [] }, "{'a': 1, 'b': 'c', 'key with space': []}"],
  [new Map([[1, 'one'], ['two', 2]]), "{1: 'one', 'two': 2}"],
  [new Set([3, 1, 2]), '{1, 2, 3}'],
  [new Set(['only']), "{'only'}"],
  [new Date(Date.UTC(2024, 1, 29, 13, 45, 30, 123)), 'datetime.datetime(2024, 2, 29, 13, 45, 30, 123000, tzinfo=datetime.timezone.utc)'],
  [[shared, shared], "[[1, 'two'], [1, 'two']]"],
  [cyclic, '[[...]]'],
];

for (let protocol = 0; protocol <= 5; protocol++) {
  test(`Node → Python → Node at protocol ${protocol} (subprocess)`, () => {
    const results = throughPython(CASES.map((c) => c[0]), protocol);
    CASES.forEach(([value, repr, expected], i) => {
      const { repr: seen, back } = results[i];
      if (repr !== null) assert.equal(seen, repr, `python sees case ${i}`);
      if (value instanceof Set) {
        assert.deepEqual(new Set(back), value);
      } else if (value === cyclic) {
        assert.equal(back.length, 1);
        assert.equal(back[0], back);
      } else {
        assert.deepEqual(back, expected === undefined ? value : expected, `case ${i}`);
      }
    });
    const [pair] = throughPython([[shared, shared]], protocol);
    assert.equal(pair.back[0], pair.back[1], 'sharing survives the round trip');
  });
}

test('Python-made values decode exactly (subprocess)', () => {
  const script = `
import pickle, sys, collections, datetime, decimal, uuid
obj = {
  "neg40": -2**40, "big70": 2**70, "neg_big": -2**200, "u64": 2**64 - 1,
  "od": collections.OrderedDict([("z", 1), ("a", 2)]),
  "when": datetime.datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=datetime.timezone(datetime.timedelta(hours=-5))),
  "day": datetime.date(1969, 7, 20), "t": datetime.time(12, 30), "td": datetime.timedelta(days=-1, seconds=5),
  "dec": decimal.Decimal("1e-30"), "c": 2j, "id": uuid.UUID(int=2**128 - 1),
  "set": {1}, "fs": frozenset(), "ba": bytearray(b"x"), "tup": (1, (2,)),
}
sys.stdout.buffer.write(pickle.dumps(obj, protocol=int(sys.argv[1])))
`;
  for (let protocol = 0; protocol <= 5; protocol++) {
    const v = loads(execFileSync(python, ['-c', script, String(protocol)]));
    assert.equal(v.neg40, -1099511627776);
    assert.equal(v.big70, 2n ** 70n);
    assert.equal(v.neg_big, -(2n ** 200n));
    assert.equal(v.u64, 2n ** 64n - 1n);
    assert.deepEqual(Object.keys(v.od), ['z', 'a']);
    assert.equal(v.when.toISOString(), '2000-01-01T04:59:59.999Z');
    assert.equal(v.day.toISOString(), '1969-07-20T00:00:00.000Z');
    assert.deepEqual(v.t, { hour: 12, minute: 30, second: 0, microsecond: 0 });
    assert.deepEqual(v.td, { days: -1, seconds: 5, microseconds: 0 });
    assert.equal(v.dec, '1E-30');
    assert.deepEqual(v.c, { re: 0, im: 2 });
    assert.equal(v.id, 'ffffffff-ffff-ffff-ffff-ffffffffffff');
    assert.deepEqual(v.set, new Set([1]));
    assert.deepEqual(v.fs, new Set());
    assert.deepEqual(v.ba, Buffer.from('x'));
    assert.deepEqual(v.tup, [1, [2]]);
  }
});
