// Type-checked by test/typescript.test.js (`tsc --noEmit --strict`), never run: every
// export of index.d.ts and every option, used the way index.js accepts them, plus
// lines that must not type-check (each marked `@ts-expect-error`).

import {
  loads,
  dumps,
  dis,
  HIGHEST_PROTOCOL,
  DEFAULT_PROTOCOL,
  type BrineryError,
  type BrineryErrorCode,
  type DumpsOptions,
  type LoadsOptions,
  type PyClass,
  type PyComplex,
  type PyTime,
  type PyTimedelta,
  type PyValue,
  type UnknownObject,
} from '../..';

class Point {
  constructor(
    public x: number,
    public y: number,
  ) {}
}
function makePoint(x: number, y: number): { x: number; y: number } {
  return { x, y };
}
const classes: { [name: string]: PyClass } = { '__main__.Point': Point, 'geo.point': makePoint };

const options: LoadsOptions = {
  dict: 'auto',
  frozenTuples: true,
  classes,
  allowUnknown: true,
  encoding: 'latin1',
  maxDepth: 100,
  maxMemo: 1e6,
  maxAlloc: Infinity,
  persistentLoad: (pid) => ({ pid }),
  extensions: { 240: 'collections.OrderedDict' },
  buffers: [Buffer.alloc(4), new Uint8Array(8)],
};
const stream: Buffer = dumps({ a: [1, 2n, 'three', null, true, new Map([[1, 2]]), new Set([3])] });
const any1 = loads(stream, options);
const viaArrayBuffer: unknown = loads(new ArrayBuffer(0));
const viaView: unknown = loads(new DataView(new ArrayBuffer(0)), { dict: 'map', encoding: 'bytes' });
const typed: PyValue[] = loads<PyValue[]>(new Uint8Array(stream), {
  dict: 'object',
  encoding: 'ascii',
  extensions: new Map([[1, 'copyreg._reconstructor']]),
  buffers: new Set<Uint8Array>(),
});
const dumpOptions: DumpsOptions = { protocol: HIGHEST_PROTOCOL };
const p0: Buffer = dumps(any1, { protocol: 0 });
const pDefault: Buffer = dumps(typed, {});
const pNewest: Buffer = dumps(viaView, { protocol: -1 });
const pBytes: number = pNewest.length;
const p2: Buffer = dumps(viaArrayBuffer, dumpOptions);
const text: string = dis(p0) + dis(new Uint8Array(pDefault)) + dis(new ArrayBuffer(0)) + dis(p2);
const protocols: number = HIGHEST_PROTOCOL + DEFAULT_PROTOCOL + text.length;

// The shapes a decoded value may take.
const time: PyTime = { hour: 1, minute: 2, second: 3, microsecond: 4 };
const delta: PyTimedelta = { days: 1, seconds: 2, microseconds: 3 };
const complex: PyComplex = { re: 1, im: -1 };
const unknown: UnknownObject = {
  $global: 'mod.Cls',
  args: [1, 'a'],
  state: { a: 1 },
  kwargs: { b: 2 },
  items: [time, delta, complex],
  entries: [['k', new Date(0)]],
};
const values: PyValue[] = [null, true, 1, 2n, 's', Buffer.alloc(1), new Date(), [1], { k: [] }, new Map(), new Set(), unknown];

// Errors.
try {
  loads(Buffer.from([0x80]));
} catch (e) {
  const err = e as BrineryError;
  const code: BrineryErrorCode = err.code;
  const offset: number | undefined = err.offset;
  const message: string = err.message;
  console.log(code, offset, message, protocols, values, pBytes);
}

// Lines that must not type-check.
// @ts-expect-error: `dict` is "auto", "map" or "object"
loads(stream, { dict: 'list' });
// @ts-expect-error: data must be bytes, not a string
loads('not bytes');
// @ts-expect-error: unknown option
loads(stream, { maxDeph: 3 });
// @ts-expect-error: a class must be a function
loads(stream, { classes: { 'a.B': 42 } });
// @ts-expect-error: extensions name globals as "module.Name" strings
loads(stream, { extensions: { 1: Point } });
// @ts-expect-error: protocol is a number
dumps(1, { protocol: '4' });
// @ts-expect-error: dumps returns a Buffer, not a string
const notText: string = dumps(1);
// @ts-expect-error: not an error code
const badCode: BrineryErrorCode = 'ERR_BRINERY_NOPE';
// @ts-expect-error: dis needs the stream
dis();
// @ts-expect-error: dis takes no SharedArrayBuffer (index.js rejects it)
dis(new SharedArrayBuffer(8));
// @ts-expect-error: undefined is no decoded value
const notValue: PyValue = undefined;
// @ts-expect-error: persistentLoad is a function
loads(stream, { persistentLoad: 'f' });
// @ts-expect-error: buffers must be iterable
loads(stream, { buffers: 3 });
