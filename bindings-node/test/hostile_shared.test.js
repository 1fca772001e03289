'use strict';
// The hostile streams of issue #20 (core/tests/vectors/hostile/streams.json, shared with
// the core, Python and C tests): every stream gives a value or an Error with an
// ERR_BRINERY_* code, in every dict mode and with or without allowUnknown; the streams
// marked `node: "error"` must fail (a wildcard never admits a dotted name, a frame
// crossed by an opcode is refused, a DAG key is not expanded by `String(key)`).

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { loads } = require('..');

const dir = path.join(__dirname, '..', '..', 'core', 'tests', 'vectors', 'hostile');
const { cases } = JSON.parse(fs.readFileSync(path.join(dir, 'streams.json'), 'utf8'));
const stream = (c) => Buffer.concat(c.parts.flatMap(([hex, n]) => Array(n).fill(Buffer.from(hex, 'hex'))));

const outcome = (data, options) => {
  try {
    loads(data, options);
    return 'value';
  } catch (e) {
    assert.ok(e instanceof Error, 'an Error');
    assert.match(String(e.code), /^ERR_BRINERY_[A-Z0-9_]+$/, e.message);
    if (e.offset !== undefined) assert.ok(e.offset >= 0 && e.offset < data.length, e.message);
    return e.code;
  }
};

test('every hostile stream is a value or a coded error', () => {
  for (const c of cases) {
    const data = stream(c);
    assert.equal(data.length, c.len, c.name);
    for (const dict of ['auto', 'map', 'object']) {
      outcome(data, { dict });
      outcome(data, { dict, allowUnknown: true });
    }
  }
});

test('the streams marked for Node fail with a coded error', () => {
  for (const c of cases.filter((c) => c.node === 'error')) {
    const data = stream(c);
    const classes = Object.fromEntries((c.allow || []).map((n) => [n, function () {}]));
    const got = outcome(data, { dict: 'object', classes });
    assert.notEqual(got, 'value', c.name);
  }
});

test('a wildcard-looking class name never admits a dotted path, with its offset', () => {
  const c = cases.find((c) => c.name === 'stack_global_dotted');
  assert.throws(
    () => loads(stream(c), { classes: { 'uuid.*': function () {} } }),
    (e) => e.code === 'ERR_BRINERY_UNKNOWN_GLOBAL' && e.offset === 19 && /uuid\.os\.system/.test(e.message),
  );
});

test('bytes() nested 44,000 deep does not recurse', () => {
  const c = cases.find((c) => c.name === 'nested_bytes_calls');
  assert.deepEqual(loads(stream(c)), Buffer.from('x'));
});

test('a DAG tuple key is refused in dict: "object" mode, kept as a Map key otherwise', () => {
  const data = stream(cases.find((c) => c.name === 'dag_tuple_dict_key'));
  assert.throws(() => loads(data, { dict: 'object' }), (e) => e.code === 'ERR_BRINERY_LIMIT');
  assert.ok(loads(data) instanceof Map);
});
