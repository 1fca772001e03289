'use strict';
// What the tape's shortcuts (src/tape.rs, src/shapes.rs, src/jstext.rs) must not change:
// dicts that share key sets, strs reached many times, large and non-Latin-1 text. Each
// stream is made by CPython, which also writes the value it pickled as JSON.

const test = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const { loads } = require('..');

const python = process.env.BRINERY_PYTHON || 'python3';

// Runs `code` (which sets `value`) and returns, per protocol, [stream, JSON of value].
function cpython(code, protocols = [0, 2, 4, 5]) {
  const out = execFileSync(python, ['-c', `
import json, pickle, sys
${code}
print(json.dumps([[pickle.dumps(value, p).hex(), json.dumps(value)] for p in ${JSON.stringify(protocols)}]))`], {
    maxBuffer: 1 << 28,
  });
  return JSON.parse(out).map(([hex, json]) => [Buffer.from(hex, 'hex'), JSON.parse(json)]);
}

test('dicts sharing key sets, in any key order, memoized or not', () => {
  const cases = cpython(`
value = []
for i in range(3000):
    value.append({"id": i, "name": "n%d" % i, "score": i / 7, "ok": i % 2 == 0, "tags": ["a", "b"]})
    value.append({"name": "x", "id": i})                     # same keys, other order
    value.append({"".join(["i", "d"]): i, "".join(["na", "me"]): None})  # equal keys, not memoized
    value.append({"1": "one", "0": "zero", "b": i})          # integer-like keys
    value.append({})
value.append({"k%d" % i: i for i in range(70)})               # beyond the shape key limit
value.extend({"only%d" % i: i} for i in range(5000))          # beyond the shape limit
value.append({"constructor": 1, "toString": 2, "hasOwnProperty": 3})
`);
  for (const [stream, expected] of cases) {
    const v = loads(stream);
    assert.deepEqual(v, expected);
    assert.deepEqual(Object.keys(v[1]), ['name', 'id']);
    assert.deepEqual(Object.keys(v[3]), ['0', '1', 'b']);
    assert.equal(v[v.length - 1].hasOwnProperty, 3);
    assert.deepEqual(loads(stream, { dict: 'object' }), expected);
    assert.ok(loads(stream, { dict: 'map' })[0] instanceof Map);
  }
});

test('a __proto__ key among records never touches a prototype', () => {
  const cases = cpython(`
value = [{"__proto__": {"polluted": i}, "a": i} for i in range(50)] + [{"a": 1, "__proto__": 2}]
`);
  for (const [stream, expected] of cases) {
    const v = loads(stream);
    assert.deepEqual(v, expected);
    for (const d of v) {
      assert.equal(Object.getPrototypeOf(d), Object.prototype);
      assert.ok(Object.prototype.hasOwnProperty.call(d, '__proto__'));
    }
    assert.equal({}.polluted, undefined);
  }
});

test('strs reached many times: as items, keys and values', () => {
  const cases = cpython(`
words = ["w%d" % i for i in range(50)] + ["é", "\\u20ac", "\\U0001f600"]
value = {
    "lists": [[words[(i * 7 + j) % len(words)] for j in range(3)] for i in range(2000)],
    "mixed": [words[i % len(words)] if i % 3 else i for i in range(500)],
    "dicts": [{words[i % 5]: words[i % 11], "v": words[i % 13]} for i in range(500)],
}
`);
  for (const [stream, expected] of cases) assert.deepEqual(loads(stream), expected);
});

test('large Latin-1 and UTF-16 text, lone surrogates included', () => {
  const cases = cpython(`
value = ["x" * 100_000, "\\u00ff" * 5000, ["ab"] * 3000, "\\u20ac" * 10_000, "\\U0001f600" * 3000]
`);
  for (const [stream, expected] of cases) {
    const v = loads(stream);
    assert.deepEqual(v, expected);
    // Parts of the text kept alone still read right after the rest is collected.
    const kept = v[3].slice(5, 9);
    v.length = 0;
    if (global.gc) global.gc();
    assert.equal(kept, '\u20ac'.repeat(4));
  }
  const lone = execFileSync(python, ['-c', `
import pickle, sys
sys.stdout.buffer.write(pickle.dumps(["\\ud800" + "y" * 5000, "\\udfff"] * 3, 4))`]);
  const v = loads(lone);
  assert.equal(v[0], '\ud800' + 'y'.repeat(5000));
  assert.equal(v[1], '\udfff');
  assert.equal(v[5], '\udfff');
});

test('ASCII text shared with the decoder, then anything that ends the sharing', () => {
  // The tape's text is the decoder's own while every str is ASCII and new, in stream
  // order (src/tape.rs); each case below breaks that at some point, or never.
  const cases = cpython(`
head = ["s%d" % i for i in range(3000)]
value = [
    head,
    head + ["\u00e9t\u00e9"] + ["t%d" % i for i in range(3000)],
    head + ["\u20ac"] + ["t%d" % i for i in range(3000)],
    head + [str(2**100)] + ["t%d" % i for i in range(3000)],
    head + [{"k": "v%d" % i, "j": "w"} for i in range(3000)],
    ["ab"] * 10 + ["".join(["a", "b"]) for _ in range(10)],
]
`);
  for (const [stream, expected] of cases) assert.deepEqual(loads(stream), expected);
  const data = execFileSync(python, ['-c', `
import pickle, sys
sys.stdout.buffer.write(pickle.dumps(["a%d" % i for i in range(3000)] + [2**100, -2**70, "z"], 4))`]);
  const v = loads(data);
  assert.equal(v[2999], 'a2999');
  assert.equal(v[3000], 2n ** 100n);
  assert.equal(v[3001], -(2n ** 70n));
  assert.equal(v[3002], 'z');
});

test('a record that contains itself, and records shared between lists', () => {
  const data = execFileSync(python, ['-c', `
import pickle, sys
rows = [{"id": i, "self": None, "peer": None} for i in range(100)]
for i, r in enumerate(rows):
    r["self"] = r
    r["peer"] = rows[(i + 1) % 100]
sys.stdout.buffer.write(pickle.dumps([rows, rows[::-1]], 4))`]);
  const [rows, reversed] = loads(data);
  for (let i = 0; i < 100; i++) {
    assert.equal(rows[i].self, rows[i]);
    assert.equal(rows[i].peer, rows[(i + 1) % 100]);
    assert.equal(reversed[99 - i], rows[i]);
  }
});

test('long lists of numbers: mixed, shared, cyclic, and as arguments of set() and friends', () => {
  const out = execFileSync(python, ['-c', `
import pickle, sys
nums = list(range(-150, 150)) + [0.5, -0.0, float("inf")]
mixed = list(range(300)) + ["tail", 2**60, None] + list(range(5))
big = [2**60] * 300 + [1]
selfref = list(range(300))
selfref.append(selfref)
value = [nums, mixed, big, selfref, nums, set(range(1000)), frozenset(range(-500, 500)), [float("nan")] * 300]
streams = [pickle.dumps(value, p) for p in (0, 2, 4)]
sys.stdout.buffer.write(b"".join(len(s).to_bytes(4, "little") + s for s in streams))`], { maxBuffer: 1 << 26 });
  let at = 0;
  while (at < out.length) {
    const n = out.readUInt32LE(at);
    const v = loads(out.subarray(at + 4, at + 4 + n));
    at += 4 + n;
    const [nums, mixed, big, selfref, numsAgain, set, frozen, nans] = v;
    assert.equal(nums.length, 303);
    assert.equal(nums[0], -150);
    assert.equal(nums[299], 149);
    assert.ok(Object.is(nums[301], -0));
    assert.equal(nums[302], Infinity);
    assert.equal(numsAgain, nums); // one list reached twice
    assert.deepEqual(mixed.slice(298, 305), [298, 299, 'tail', 2n ** 60n, null, 0, 1]);
    assert.equal(mixed.length, 308);
    assert.equal(big.length, 301);
    assert.ok(big.slice(0, 300).every((x) => x === 2n ** 60n));
    assert.equal(big[300], 1);
    assert.equal(selfref.length, 301);
    assert.equal(selfref[300], selfref);
    assert.equal(selfref[299], 299);
    assert.deepEqual(set, new Set(Array.from({ length: 1000 }, (_, i) => i)));
    assert.equal(frozen.size, 1000);
    assert.ok(frozen.has(-500) && frozen.has(499));
    assert.ok(nans.length === 300 && nans.every(Number.isNaN));
  }
});

test('very long lists of numbers, shared, the longest of them moved to JS whole', () => {
  const data = execFileSync(python, ['-c', `
import pickle, sys
a = list(range(-35000, 35000))
b = [x * 0.5 for x in range(80000)]
sys.stdout.buffer.write(pickle.dumps([a, b, a, {"b": b}, [2**53] + a], 4))`], { maxBuffer: 1 << 26 });
  const [a, b, a2, d, c] = loads(data);
  assert.equal(a.length, 70000);
  assert.equal(a[0], -35000);
  assert.equal(a[69999], 34999);
  assert.equal(a2, a);
  assert.equal(b.length, 80000);
  assert.equal(b[79999], 39999.5);
  assert.equal(d.b, b);
  assert.equal(c[0], 2n ** 53n);
  assert.deepEqual(c.slice(1), a);
});

test('lists of int32s (built as small integers) keep the values at and past their edges', () => {
  const data = execFileSync(python, ['-c', `
import pickle, sys
edges = [2**31 - 1, -2**31, 0, -1]
short = edges + [2**31]                       # one past int32: doubles
negzero = list(range(300)) + [-0.0]           # -0.0 is no int32
ints = [(i * 7919) % 70000 - 2**31 + 70000 for i in range(70000)] + edges
past = list(range(70000)) + [-2**31 - 1]      # the moved list, one past int32
value = [edges, short, negzero, ints, past, [0.0, 1.0, -5.0] * 100]
sys.stdout.buffer.write(pickle.dumps([value, value[:4]], 4))`], { maxBuffer: 1 << 26 });
  const [[edges, short, negzero, ints, past, floats], again] = loads(data);
  assert.deepEqual(edges, [2 ** 31 - 1, -(2 ** 31), 0, -1]);
  assert.deepEqual(short, [...edges, 2 ** 31]);
  assert.equal(negzero.length, 301);
  assert.ok(Object.is(negzero[300], -0));
  assert.ok(Object.is(negzero[0], 0));
  assert.equal(ints.length, 70004);
  assert.equal(ints[1], (7919 % 70000) - 2 ** 31 + 70000);
  assert.deepEqual(ints.slice(70000), edges);
  assert.equal(past[69999], 69999);
  assert.equal(past[70000], -(2 ** 31) - 1);
  assert.deepEqual(floats.slice(0, 3), [0, 1, -5]);
  assert.equal(again[3], ints);
});

test('loads called again while a result is built (from a mapped class) leaves both results whole', () => {
  const data = execFileSync(python, ['-c', `
import operator, pickle, sys
class Call:
    def __reduce__(self):
        return (operator.add, (1, 2))
outer = pickle.dumps([Call(), list(range(70000)), list(range(300)), [0.5] * 70000], 4)
inner = pickle.dumps([list(range(-80000, 0)), [i * 0.25 for i in range(300)]], 4)
sys.stdout.buffer.write(len(outer).to_bytes(4, "little") + outer + inner)`], { maxBuffer: 1 << 26 });
  const n = data.readUInt32LE(0);
  const outer = data.subarray(4, 4 + n);
  const inner = data.subarray(4 + n);
  let innerValue;
  const add = (a, b) => {
    innerValue = loads(inner);
    return a + b;
  };
  for (let round = 0; round < 3; round++) {
    const [three, big, small, halves] = loads(outer, { classes: { '_operator.add': add } });
    assert.equal(three, 3);
    assert.deepEqual(big, Array.from({ length: 70000 }, (_, i) => i));
    assert.deepEqual(small, Array.from({ length: 300 }, (_, i) => i));
    assert.ok(halves.length === 70000 && halves.every((x) => x === 0.5));
    assert.deepEqual(innerValue[0], Array.from({ length: 80000 }, (_, i) => i - 80000));
    assert.deepEqual(innerValue[1], Array.from({ length: 300 }, (_, i) => i * 0.25));
  }
});

test('containers filled in several batches, interleaved with the containers inside them', () => {
  // Batches of 1000 (protocols 1+) or one item at a time (protocol 0) alternate with the
  // creation of nested containers, so a container's items move out of the shared pool.
  const cases = cpython(`
value = {
    "outer": [[i, [i, "x"], {"k": i}] for i in range(2500)],
    "dict": {"k%d" % i: {"v": [i] * (i % 3)} for i in range(2300)},
    "mixed": [i if i % 700 else [i] for i in range(3100)],
    "tuples": [tuple(range(i % 5)) for i in range(1200)],
    "nums": list(range(1500)) + [[1]],
    "sets": [sorted({i, i + 1}) for i in range(1100)],
}
`);
  for (const [stream, expected] of cases) assert.deepEqual(loads(stream), expected);
  const sets = execFileSync(python, ['-c', `
import pickle, sys
sys.stdout.buffer.write(pickle.dumps([set(range(2500)), frozenset(range(3000)), {i: set(range(i % 4)) for i in range(1200)}], 4))`]);
  const [a, b, c] = loads(sets);
  assert.deepEqual(a, new Set(Array.from({ length: 2500 }, (_, i) => i)));
  assert.deepEqual(b, new Set(Array.from({ length: 3000 }, (_, i) => i)));
  assert.ok(c instanceof Map && c.size === 1200);
  assert.deepEqual(c.get(7), new Set([0, 1, 2]));
});
