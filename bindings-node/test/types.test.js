'use strict';
// index.d.ts is written by hand: check it against what the package really exports and
// against the error codes src/error.rs can produce, so the types cannot go stale.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const brinery = require('..');

const dts = fs.readFileSync(path.join(__dirname, '..', 'index.d.ts'), 'utf8');

test('index.d.ts declares exactly the exports of index.js', () => {
  const declared = [...dts.matchAll(/^export (?:function|const) (\w+)/gm)].map((m) => m[1]).sort();
  assert.deepEqual(declared, Object.keys(brinery).sort());
});

test('index.d.ts lists exactly the error codes of src/error.rs', () => {
  const rust = fs.readFileSync(path.join(__dirname, '..', 'src', 'error.rs'), 'utf8');
  const codes = (text) => [...new Set([...text.matchAll(/"(ERR_BRINERY_[A-Z0-9_]+)"/g)].map((m) => m[1]))].sort();
  const fromJs = fs.readFileSync(path.join(__dirname, '..', 'index.js'), 'utf8').match(/'(ERR_BRINERY_[A-Z0-9_]+)'/g) || [];
  const used = [...new Set([...codes(rust), ...fromJs.map((c) => c.slice(1, -1))])].sort();
  const typed = [...new Set([...dts.matchAll(/'(ERR_BRINERY_[A-Z0-9_]+)'/g)].map((m) => m[1]))].sort();
  assert.deepEqual(typed, used);
});
