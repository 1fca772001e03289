'use strict';
// Decodes one pickle file N times (default 2) with brinery.loads: the Node decoder's
// workload for callgrind instruction counts (docs/benchmarks.md gives the command).
// Not a timing benchmark: see compare.js.
//
//     node bench/decode_file.js FILE [N]        (from bindings-node/, after a release build)

const fs = require('node:fs');
const brinery = require('..');

const [file, n] = process.argv.slice(2);
const data = fs.readFileSync(file);
for (let i = 0; i < Number(n || 2); i++) brinery.loads(data);
