'use strict';
// `dumps` against CPython's own `pickle.dumps` of the equal Python value, byte for byte,
// where the two agree on what is shared: CPython is handed the value with every str
// interned (`dumps` memoizes strings by value, having no identity for them). Covers what
// the walk's shortcuts must not change: batch edges (999 to 2001 items, dicts and sets
// of a multiple of 1000), frame edges (a frame closes before a value, never before
// `APPENDS`), plain objects sharing key lists (shapes), strings sent as UTF-8 (non-ASCII,
// pairs, lone surrogates at the ends of neighbouring strings) and memoized strings.

const test = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const { dumps } = require('..');

const python = process.env.BRINERY_PYTHON || 'python3';

// Python code setting `value`, then every str in it interned; returns the streams.
function cpython(code, protocols) {
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
value = intern(value)
print(" ".join(pickle.dumps(value, p).hex() for p in ${JSON.stringify(protocols)}))`], { maxBuffer: 1 << 28 });
  return out.toString().trim().split(' ').map((hex) => Buffer.from(hex, 'hex'));
}

function same(value, code, protocols = [0, 1, 2, 3, 4, 5]) {
  const expected = cpython(code, protocols);
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

