'use strict';
// The shared CPython vectors (core/tests/vectors): every plain case at every protocol
// decodes to exactly the object graph in NAME.json (sharing and cycles included), the
// standard types come back in their documented JS forms, and `dis` prints what
// `pickletools.dis` printed.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { loads, dis } = require('..');

const dir = process.env.BRINERY_VECTORS || path.join(__dirname, '..', '..', 'core', 'tests', 'vectors');
const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
const read = (file) => fs.readFileSync(path.join(dir, file));

// UTF-16 code units of a str given as its `surrogatepass` UTF-8 bytes.
function fromSurrogatepass(hex) {
  const b = Buffer.from(hex, 'hex');
  let s = '';
  for (let i = 0; i < b.length; ) {
    const c = b[i];
    let cp;
    let len;
    if (c < 0x80) [cp, len] = [c, 1];
    else if (c < 0xe0) [cp, len] = [c & 0x1f, 2];
    else if (c < 0xf0) [cp, len] = [c & 0x0f, 3];
    else [cp, len] = [c & 0x07, 4];
    for (let j = 1; j < len; j++) cp = (cp << 6) | (b[i + j] & 0x3f);
    s += cp >= 0x10000 ? String.fromCodePoint(cp) : String.fromCharCode(cp);
    i += len;
  }
  return s;
}

const MEMOIZED = new Set(['str', 'surrogate_str', 'bytes', 'bytearray', 'list', 'tuple', 'dict', 'set', 'frozenset']);

// Asserts that `value` is node `id` of `graph`; `seen` maps node ids to the JS values
// already matched, so a node reached twice must be the very same JS object.
function check(value, graph, id, seen, where) {
  const node = graph.nodes[id];
  const [type, arg] = node;
  if (MEMOIZED.has(type) && seen.has(id)) {
    if (typeof value === 'object') assert.equal(value, seen.get(id), `${where}: shared node ${id} is not the same object`);
    else assert.equal(value, seen.get(id), where);
    return;
  }
  if (MEMOIZED.has(type) && !(type === 'tuple' && arg.length === 0)) seen.set(id, value);
  switch (type) {
    case 'none':
      assert.equal(value, null, where);
      break;
    case 'bool':
      assert.equal(value, arg, where);
      break;
    case 'int': {
      const big = BigInt(arg);
      if (big >= -(2n ** 53n - 1n) && big <= 2n ** 53n - 1n) assert.equal(value, Number(big), where);
      else assert.equal(value, big, where);
      break;
    }
    case 'float': {
      const expected = Buffer.from(arg, 'hex').readDoubleBE(0);
      assert.ok(Object.is(value, expected), `${where}: ${value} is not ${expected}`);
      break;
    }
    case 'str':
      assert.equal(value, arg, where);
      break;
    case 'surrogate_str':
      assert.equal(value, fromSurrogatepass(arg), where);
      break;
    case 'bytes':
    case 'bytearray':
      assert.ok(Buffer.isBuffer(value), `${where}: not a Buffer`);
      assert.equal(value.toString('hex'), arg, where);
      break;
    case 'list':
    case 'tuple':
      assert.ok(Array.isArray(value), `${where}: not an array`);
      assert.equal(value.length, arg.length, `${where}: length`);
      arg.forEach((child, i) => check(value[i], graph, child, seen, `${where}[${i}]`));
      break;
    case 'dict': {
      const strKeys = arg.every(([k]) => graph.nodes[k][0] === 'str' || graph.nodes[k][0] === 'surrogate_str');
      if (strKeys) {
        assert.equal(Object.getPrototypeOf(value), Object.prototype, `${where}: not a plain object`);
        assert.equal(Object.keys(value).length, arg.length, `${where}: key count`);
        for (const [k, v] of arg) {
          const key = graph.nodes[k][0] === 'str' ? graph.nodes[k][1] : fromSurrogatepass(graph.nodes[k][1]);
          assert.ok(Object.prototype.hasOwnProperty.call(value, key), `${where}: missing key ${key}`);
          check(value[key], graph, v, seen, `${where}.${key}`);
        }
      } else {
        assert.ok(value instanceof Map, `${where}: not a Map`);
        assert.equal(value.size, arg.length, `${where}: size`);
        const entries = [...value.entries()];
        arg.forEach(([k, v], i) => {
          check(entries[i][0], graph, k, seen, `${where}.key${i}`);
          check(entries[i][1], graph, v, seen, `${where}.value${i}`);
        });
      }
      break;
    }
    case 'set':
    case 'frozenset': {
      assert.ok(value instanceof Set, `${where}: not a Set`);
      assert.equal(value.size, arg.length, `${where}: size`);
      const items = [...value];
      arg.forEach((child, i) => check(items[i], graph, child, seen, `${where}{${i}}`));
      break;
    }
    default:
      assert.fail(`${where}: unknown node type ${type}`);
  }
}

test('plain vectors decode to their object graph at every protocol', () => {
  let checked = 0;
  for (const c of manifest.cases.filter((c) => c.plain)) {
    const graph = JSON.parse(read(c.json));
    for (const p of c.protocols) {
      const value = loads(read(`${c.name}.p${p}.pickle`));
      check(value, graph, graph.root, new Map(), `${c.name}.p${p}`);
      checked++;
    }
  }
  assert.ok(checked > 400, `only ${checked} streams checked`);
});

test('tuples are frozen arrays with frozenTuples', () => {
  const c = manifest.cases.find((c) => c.name === 'nested') || manifest.cases.find((c) => c.name === 'cycle_tuple_root');
  for (const p of c.protocols) {
    const value = loads(read(`${c.name}.p${p}.pickle`), { frozenTuples: true });
    const graph = JSON.parse(read(c.json));
    check(value, graph, graph.root, new Map(), `${c.name}.p${p}`);
  }
  const tuple = loads(read('cycle_tuple_root.p4.pickle'), { frozenTuples: true });
  assert.ok(Object.isFrozen(tuple));
  assert.ok(!Object.isFrozen(tuple[0]));
});

const STANDARD = {
  ordereddict: (v) => assert.deepEqual(v, { b: 1, a: [2] }),
  datetime: (v) => {
    assert.ok(v instanceof Date);
    assert.equal(v.toISOString(), '2024-02-29T13:45:30.123Z');
  },
  decimal: (v) => assert.equal(v, '-3.14159'),
  complex: (v) => assert.deepEqual(v, { re: 1.5, im: -2 }),
  uuid: (v) => assert.equal(v, '12345678-1234-5678-1234-567812345678'),
};

for (const [name, expect] of Object.entries(STANDARD)) {
  test(`standard type ${name} at every protocol`, () => {
    const c = manifest.cases.find((c) => c.name === name);
    assert.ok(c, `vector ${name} missing`);
    for (const p of c.protocols) expect(loads(read(`${name}.p${p}.pickle`)));
  });
}

test('other globals are coded errors naming them, or inert with allowUnknown', () => {
  for (const name of ['getstate', 'newobj_ex', 'range', 'global_function']) {
    const c = manifest.cases.find((c) => c.name === name);
    // Below protocol 4 CPython writes keyword arguments as a functools.partial call,
    // whose callable is not a global: unsupported (tested below).
    for (const p of c.protocols.filter((p) => name !== 'newobj_ex' || p >= 4)) {
      const data = read(`${name}.p${p}.pickle`);
      assert.throws(
        () => loads(data),
        (e) => e.code === 'ERR_BRINERY_UNKNOWN_GLOBAL' && /global \S+\.\S+ is not allowed/.test(e.message),
        `${name}.p${p}`,
      );
      const inert = JSON.stringify(loads(data, { allowUnknown: true }), (k, v) => (typeof v === 'bigint' ? `${v}` : v));
      assert.match(inert, /"\$global":"[^"]+\.[^"]+"/, `${name}.p${p}`);
    }
  }
  const range = loads(read('range.p4.pickle'), { allowUnknown: true });
  assert.deepEqual(range, { $global: 'builtins.range', args: [1, 10, 2], state: null });
  const fns = loads(read('global_function.p4.pickle'), { allowUnknown: true });
  assert.deepEqual(fns, [
    { $global: 'builtins.len', args: null, state: null },
    { $global: '_pickle.dumps', args: null, state: null },
  ]);
  const len = () => 0;
  assert.equal(loads(read('global_function.p2.pickle'), { classes: { 'builtins.len': len }, allowUnknown: true })[0], len);
});

test('classes maps globals to constructors, applying BUILD state', () => {
  const c = manifest.cases.find((c) => c.name === 'getstate');
  const seen = [];
  class Stateful {
    constructor(...args) {
      seen.push(args);
    }
  }
  for (const p of c.protocols) {
    const v = loads(read(`getstate.p${p}.pickle`), {
      classes: { 'brinery_vectors.Stateful': Stateful },
      allowUnknown: true,
    });
    const found = JSON.stringify(v, (k, x) => (x instanceof Stateful ? { ...x, isStateful: true } : x));
    assert.match(found, /"isStateful":true/, `getstate.p${p}`);
  }
  const range = loads(read('range.p2.pickle'), { classes: { 'builtins.range': (a, b, s) => ({ a, b, s }) } });
  assert.deepEqual(range, { a: 1, b: 10, s: 2 });
});

test('without their options, persistent ids, extensions, out-of-band buffers, and computed callables are coded errors', () => {
  for (const name of ['persid_str', 'persid_tuple', 'extension', 'oob_buffers', 'newobj_ex']) {
    const c = manifest.cases.find((c) => c.name === name);
    // Extension codes exist from protocol 2 (a GLOBAL before); the partial call of
    // newobj_ex below protocol 4.
    const from = { extension: 2, oob_buffers: 5 }[name] || 0;
    const to = name === 'newobj_ex' ? 3 : 5;
    for (const p of c.protocols.filter((p) => p >= from && p <= to)) {
      assert.throws(
        () => loads(read(`${name}.p${p}.pickle`), { allowUnknown: true }),
        (e) => typeof e.code === 'string' && e.code.startsWith('ERR_BRINERY_'),
        `${name}.p${p}`,
      );
    }
  }
});

test('persistentLoad, extensions and buffers resolve what CPython wrote', () => {
  const persid = (name, p) => {
    const seen = [];
    const v = loads(read(`${name}.p${p}.pickle`), {
      persistentLoad: (pid) => {
        seen.push(pid);
        return { loaded: pid };
      },
    });
    return { v, seen };
  };
  for (const p of manifest.cases.find((c) => c.name === 'persid_str').protocols) {
    const { v, seen } = persid('persid_str', p);
    assert.deepEqual(v, ['before', { loaded: 'doc:7' }, 'after'], `persid_str.p${p}`);
    assert.deepEqual(seen, ['doc:7']);
  }
  for (const p of manifest.cases.find((c) => c.name === 'persid_tuple').protocols) {
    const { v, seen } = persid('persid_tuple', p);
    // Two distinct Documents: persistent_load is called for each, as in Python.
    assert.deepEqual(v, ['before', { loaded: ['doc', 7] }, { loaded: ['doc', 7] }], `persid_tuple.p${p}`);
    assert.equal(seen.length, 2);
  }
  class Point {}
  for (const p of manifest.cases.find((c) => c.name === 'extension').protocols) {
    const v = loads(read(`extension.p${p}.pickle`), {
      extensions: { 0x42: 'brinery_vectors.Point' },
      classes: { 'brinery_vectors.Point': Point },
    });
    assert.ok(v.every((x) => x instanceof Point), `extension.p${p}`);
    assert.deepEqual(v.map((x) => ({ ...x })), [{ x: 1, y: 2 }, { x: 3, y: 4 }]);
  }
  class Wide2 {}
  class Wide4 {}
  for (const p of manifest.cases.find((c) => c.name === 'extension_wide').protocols) {
    const extensions = new Map([[300, 'brinery_vectors.Wide2'], [70000, 'brinery_vectors.Wide4']]);
    const classes = { 'brinery_vectors.Wide2': Wide2, 'brinery_vectors.Wide4': Wide4 };
    const [a, b, c] = loads(read(`extension_wide.p${p}.pickle`), { extensions, classes });
    assert.equal(a, Wide2, `extension_wide.p${p}`);
    assert.equal(b, Wide4);
    assert.ok(c instanceof Wide2);
    assert.throws(() => loads(read(`extension_wide.p${p}.pickle`), { extensions: { 300: 'brinery_vectors.Wide2' }, classes }),
      (e) => e.code === 'ERR_BRINERY_UNSUPPORTED' && /70000/.test(e.message));
  }
  const oob = manifest.cases.find((c) => c.name === 'oob_buffers');
  for (const p of oob.protocols) {
    const buffers = oob.buffers[p].map((b) => read(b.file));
    const v = loads(read(`oob_buffers.p${p}.pickle`), { buffers });
    assert.equal(v[0], buffers[0]); // the caller's object itself
    assert.equal(v[1], buffers[1]);
    assert.deepEqual(v.map((b) => b.toString()), ['writable buffer', 'readonly buffer', 'in band']);
    for (const few of [buffers.slice(0, 1), undefined]) {
      assert.throws(() => loads(read(`oob_buffers.p${p}.pickle`), { buffers: few }),
        (e) => e.code === 'ERR_BRINERY_BUFFER');
    }
  }
  for (const [options, message] of [
    [{ persistentLoad: 1 }, /persistentLoad/],
    [{ extensions: { x: 'a.b' } }, /extension code/],
    [{ extensions: { 5: 7 } }, /module\.Name/],
    [{ buffers: 3 }, /buffers/],
  ]) {
    assert.throws(() => loads(read('persid_str.p2.pickle'), options), (e) =>
      e.code === 'ERR_BRINERY_BAD_ARGUMENT' && message.test(e.message));
  }
});

test('Python 2 streams follow the encoding option', () => {
  for (const c of manifest.py2) {
    for (const [encoding, result] of Object.entries(c.results)) {
      const data = read(c.pickle);
      if (result.error) {
        assert.throws(
          () => loads(data, { encoding, allowUnknown: true }),
          (e) => e.code.startsWith('ERR_BRINERY_'),
          `${c.name} ${encoding}`,
        );
      } else {
        loads(data, { encoding, allowUnknown: true });
      }
    }
  }
  const dt = loads(read('py2_datetime.pickle'), { encoding: 'latin1' });
  assert.equal(dt.toISOString(), '2015-01-02T03:04:05.000Z');
  const raw = loads(read('py2_short_binstring.pickle'), { encoding: 'bytes' });
  assert.deepEqual(raw, [Buffer.from('abc'), Buffer.from([0xff, 0, 0xe9, 0x80]), Buffer.from('abc')]);
  assert.equal(raw[0], raw[2]);
});

// Until the core's disassembler lands, its stub says so; the test then reports a skip
// instead of failing on someone else's unfinished work.
const disPending = (() => {
  try {
    dis(Buffer.from([0x4e, 0x2e]));
    return false;
  } catch (e) {
    return /not implemented/.test(e.message) && 'brinery_core::dis is not implemented yet';
  }
})();

test('dis prints what pickletools.dis printed', { skip: disPending }, () => {
  let same = 0;
  for (const c of manifest.cases) {
    for (const p of c.protocols) {
      const file = `${c.name}.p${p}`;
      assert.equal(dis(read(`${file}.pickle`)), read(`${file}.dis`).toString('utf8'), file);
      same++;
    }
  }
  assert.ok(same > 400);
});
