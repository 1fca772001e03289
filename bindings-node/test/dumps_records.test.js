'use strict';
// Plain objects through `dumps`' shape path: a record whose own keys are the last shape's
// is read by `for...in`, so these check that what it writes is still every own
// enumerable string key of the object, in order, whatever the object or its prototype.

const test = require('node:test');
const assert = require('node:assert/strict');
const { loads, dumps } = require('..');

const roundTrip = (v) => loads(dumps(v));
const entries = (o) => Object.entries(o);

test('records of one shape, then objects whose keys differ in order, number or prototype', () => {
  const bare = Object.create(null);
  bare.a = 3;
  bare.b = 4;
  const value = [
    { a: 1, b: 2 },
    bare,
    { b: 5, a: 6 },
    { a: 7 },
    { a: 8, b: 9, c: 10 },
    { 1: 'one', 0: 'zero', a: 11 },
    { a: 12, b: 13 },
  ];
  const got = roundTrip(value);
  assert.deepEqual(got.map(entries), value.map(entries));
});

test('a getter that deletes a later key of its record', () => {
  const plain = { a: 1, b: 2 };
  const tricky = {
    get a() {
      delete this.b;
      return 'got';
    },
    b: 'deleted before it is read',
  };
  const [first, second] = roundTrip([plain, tricky]);
  assert.deepEqual(first, { a: 1, b: 2 });
  // The keys are those the object had when it was reached; `b` is gone when read.
  assert.deepEqual(second, { a: 'got', b: null });
});

test('an enumerable property on Object.prototype is not a key of any record', () => {
  const value = [{ a: 1 }, { a: 2 }];
  Object.defineProperty(Object.prototype, 'polluted', { value: 1, enumerable: true, configurable: true });
  let data;
  try {
    data = dumps(value);
  } finally {
    delete Object.prototype.polluted;
  }
  assert.deepEqual(loads(data).map(entries), [[['a', 1]], [['a', 2]]]);
});

test('a Date or an array with a prototype of its own is still a Date or a list', () => {
  class Stamp extends Date {}
  class Row extends Array {}
  const row = Row.from([1, 2]);
  const got = roundTrip([new Stamp(0), row, { a: row }]);
  assert.ok(got[0] instanceof Date);
  assert.equal(got[0].getTime(), 0);
  assert.deepEqual(got[1], [1, 2]);
  assert.equal(got[2].a, got[1]);
});
