'use strict';
// `dumps` against CPython's own `pickle.dumps` of the equal Python value, byte for byte,
// where the two agree on what is shared: CPython is handed the value with every str
// interned (`dumps` memoizes strings by value, having no identity for them). Covers what
// the walk's shortcuts must not change: batch edges (999 to 2001 items, dicts and sets
// of a multiple of 1000), frame edges (a frame closes before a value, never before
// `APPENDS`), plain objects sharing key lists (shapes), strings sent as UTF-8 (non-ASCII,
// pairs, lone surrogates at the ends of neighbouring strings), memoized strings, and
// objects reached twice however far into the walk (the walk checks identity in batches
// and starts again when it finds a repeat).

const test = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const { dumps } = require('..');

const python = process.env.BRINERY_PYTHON || 'python3';

// Python code setting `value`, then every str in it interned (unless `shared`: the
// interning copies every list and dict, which would undo what the value shares);
// returns the streams.
function cpython(code, protocols, shared) {
  const out = execFileSync(python, ['-c', `
import pickle, sys
${code}
def intern(v):
    if type(v) is str:
        return sys.intern(v)
    if type(v) is list:
        return [intern(x) for x in v]
    if type(v) is dict:
        return {intern(k): intern(x) for k, x in v.items()}
    if type(v) is set:
        return {intern(x) for x in v}
    return v
if not ${shared ? 'True' : 'False'}:
    value = intern(value)
print(" ".join(pickle.dumps(value, p).hex() for p in ${JSON.stringify(protocols)}))`], { maxBuffer: 1 << 28 });
  return out.toString().trim().split(' ').map((hex) => Buffer.from(hex, 'hex'));
}

function same(value, code, protocols = [0, 1, 2, 3, 4, 5], shared = false) {
  const expected = cpython(code, protocols, shared);
  protocols.forEach((p, i) => {
    const got = dumps(value, { protocol: p });
    assert.ok(got.equals(expected[i]), `protocol ${p}: ${got.length} bytes, CPython ${expected[i].length}`);
  });
}

const range = (n, f = (i) => i) => Array.from({ length: n }, (_, i) => f(i));

test('lists, dicts and sets at every batch edge', () => {
  for (const n of [0, 1, 2, 999, 1000, 1001, 2000, 2001]) {
    same(range(n), `value = list(range(${n}))`);
    same(new Map(range(n, (i) => [i, i - 5])), `value = {i: i - 5 for i in range(${n})}`);
    same(new Set(range(n)), `value = set(range(${n}))`, [4, 5]);
  }
});

test('frames break where CPython breaks them', () => {
  // Ints of three sizes and strings of many lengths put frame ends in every position.
  same(range(120000, (i) => (i * 7919) % 70001), 'value = [(i * 7919) % 70001 for i in range(120000)]', [4, 5]);
  same(
    range(9000, (i) => 'w'.repeat(i % 40) + i),
    'value = ["w" * (i % 40) + str(i) for i in range(9000)]',
    [4, 5],
  );
  same(
    [range(1001), [['x'.repeat(70000)], 1]],
    'value = [list(range(1001)), [["x" * 70000], 1]]',
    [4, 5],
  );
});

test('plain objects sharing key lists, and keys that are also values', () => {
  const value = [];
  for (let i = 0; i < 1500; i++) {
    value.push({ id: i, name: `n${i % 50}`, tags: ['a', 'b'] });
    value.push({ name: 'id', id: i });
    value.push({ 1: 'one', 0: 'zero', b: i });
    value.push({});
  }
  value.push(Object.fromEntries(range(40, (i) => [`k${i}`, i])));
  same(value, `
value = []
for i in range(1500):
    value.append({"id": i, "name": "n%d" % (i % 50), "tags": ["a", "b"]})
    value.append({"name": "id", "id": i})
    value.append({"0": "zero", "1": "one", "b": i})
    value.append({})
value.append({"k%d" % i: i for i in range(40)})
`);
});

test('strings as UTF-8: non-ASCII, pairs, lone surrogates between neighbours', () => {
  const value = [
    'héllo wörld €😀', 'a\ud83d', '\ude00b', '\ud800', '\udfff', 'x\ud83d\ude00', 'plain',
    ...range(3000, (i) => (i % 3 ? 'é' : 'e') + 'x'.repeat(i % 20000 === 0 ? 20000 : i % 17) + (i % 5 ? '' : '\ud800')),
    'héllo wörld €😀', 'a\ud83d', 'plain',
  ];
  same(value, `
value = ["h\\u00e9llo w\\u00f6rld \\u20ac\\U0001f600", "a\\ud83d", "\\ude00b", "\\ud800", "\\udfff", "x\\U0001f600", "plain"]
value += [("\\u00e9" if i % 3 else "e") + "x" * (20000 if i % 20000 == 0 else i % 17) + ("" if i % 5 else "\\ud800") for i in range(3000)]
value += ["h\\u00e9llo w\\u00f6rld \\u20ac\\U0001f600", "a\\ud83d", "plain"]
`);
});

test('strings of every length around the 16 bytes kept in the string table, and at the end', () => {
  // Up to 16 bytes a string's bytes are its table entry; longer, a slice of the text.
  // Neighbours that differ in the last byte only, repeats, and a short string last in the
  // text (fewer than 16 bytes after its start).
  const words = range(40, (i) => 'abcdefghijklmnopqrstuvwxyz0123456789ABCD'.slice(0, i));
  const twins = range(20, (i) => 'q'.repeat(i) + 'x').concat(range(20, (i) => 'q'.repeat(i) + 'y'));
  const value = [...words, ...twins, ...words.slice().reverse(), ...twins, 'é'.repeat(8), 'é'.repeat(8), 'tail', 'tail'];
  same(value, `
words = ["abcdefghijklmnopqrstuvwxyz0123456789ABCD"[:i] for i in range(40)]
twins = ["q" * i + "x" for i in range(20)] + ["q" * i + "y" for i in range(20)]
value = words + twins + words[::-1] + twins + ["\u00e9" * 8, "\u00e9" * 8, "tail", "tail"]
`);
});


test('objects reached twice or in a cycle after many distinct ones, as CPython memoizes them', () => {
  // A repeat after the first identity check (8,192 objects) and after later ones; the
  // repeated object is then a list, a record, a Map and (below protocol 4 memoized after
  // its items) a Set.
  for (const n of [10, 9000, 40000]) {
    const items = range(n, (i) => [i]);
    const record = { k: 1 };
    const map = new Map([[1, 2]]);
    const set = new Set([3]);
    same(
      [record, map, ...items, items[0], items[n - 1], record, map],
      `items = [[i] for i in range(${n})]
record = {"k": 1}
m = {1: 2}
value = [record, m] + items + [items[0], items[-1], record, m]`,
      undefined,
      true,
    );
    same([set, ...items, set], `items = [[i] for i in range(${n})]\ns = {3}\nvalue = [s] + items + [s]`, undefined, true);
    // A list holding itself at its end, and a record holding its parent.
    const cyclic = items.slice();
    const child = { up: null };
    child.up = cyclic;
    cyclic.push(child, cyclic);
    same(cyclic, `value = [[i] for i in range(${n})]\nchild = {"up": value}\nvalue += [child, value]`, undefined, true);
  }
});

test('one long list reached many times is written once, not walked again each time', () => {
  const big = range(200000);
  same(Array(64).fill(big), 'big = list(range(200000))\nvalue = [big] * 64', [4, 5], true);
  // Nested sharing that would double at every level if each reference were walked.
  let level = [1, 'x'];
  let code = 'level = [1, "x"]\n';
  for (let i = 0; i < 40; i++) {
    level = [level, level];
    code += 'level = [level, level]\n';
  }
  same(level, `${code}value = level`, [2, 4, 5], true);
});

test('records whose first values are records of shapes not met before', () => {
  // The first record of a shape defines nested shapes before its own is complete; the
  // shapes must keep their numbers and their own keys (the second record once came back
  // as {'b': {'a': 2}}).
  const make = (i) => ({ a: { b: i }, c: { d: { e: i, g: [i] }, f: i }, h: i });
  const value = [make(1), make(2), { a: { b: 3 } }, make(4)];
  same(value, `
def make(i):
    return {"a": {"b": i}, "c": {"d": {"e": i, "g": [i]}, "f": i}, "h": i}
value = [make(1), make(2), {"a": {"b": 3}}, make(4)]
`);
});

test('many small objects each reached twice, and the values written after them', () => {
  // Thousands of repeats make the next calls walk checking every object (walks.js):
  // the streams are CPython's either way, before and after.
  const records = range(3000, (i) => ({ id: i, tags: [`t${i % 7}`], ok: i % 2 === 0 }));
  // The tags are literals, so that CPython's equal strs are one object without interning.
  const code = 'T = ["t0", "t1", "t2", "t3", "t4", "t5", "t6"]\nrecords = [{"id": i, "tags": [T[i % 7]], "ok": i % 2 == 0} for i in range(3000)]\n';
  const before = dumps(records);
  const items = range(5000, (i) => [i]);
  same(items.concat(items), 'items = [[i] for i in range(5000)]\nvalue = items + items', [4, 5], true);
  for (let i = 0; i < 3; i++) assert.ok(dumps(records).equals(before));
  same(records, `${code}value = records`, [4]);
  same([records, records], `${code}value = [records, records]`, [4], true);
});
