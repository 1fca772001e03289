'use strict';
// index.d.ts compiled for real: `tsc --noEmit --strict` over test/types/usage.ts, which
// uses every export and every option as index.js accepts them and holds lines that must
// not type-check (`@ts-expect-error`: tsc fails if any of them does type-check).

const test = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.join(__dirname, '..');

test('index.d.ts type-checks a usage of every export and option under --strict', () => {
  const tsc = require.resolve('typescript/bin/tsc', { paths: [root] });
  const usage = path.join(__dirname, 'types', 'usage.ts');
  const run = spawnSync(
    process.execPath,
    [tsc, '--noEmit', '--strict', '--target', 'es2020', '--module', 'commonjs', '--types', 'node', usage],
    { cwd: root, encoding: 'utf8' },
  );
  assert.equal(run.status, 0, `tsc failed:\n${run.stdout}${run.stderr}`);
});
