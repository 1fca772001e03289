// Types of the `brinery` npm package. Keep in step with index.js and docs/node.md.

/// <reference types="node" />

/**
 * What a decoded Python value becomes:
 *
 * | Python | JavaScript |
 * |---|---|
 * | `None` | `null` |
 * | `bool` | `boolean` |
 * | `int` | `number` when within ±(2^53 − 1), else `bigint` (exact, any size) |
 * | `float` | `number` |
 * | `str` | `string` (lone surrogates kept as lone UTF-16 surrogates) |
 * | `bytes`, `bytearray` | `Buffer` |
 * | `list` | `Array` |
 * | `tuple` | `Array` (frozen with `frozenTuples: true`) |
 * | `dict` | plain object when every key is a str, else `Map` (see `dict`) |
 * | `set`, `frozenset` | `Set` |
 * | `collections.OrderedDict` | as `dict` |
 * | `datetime.datetime` | `Date` (naive = UTC; `datetime.timezone` offsets applied; microseconds truncated to ms) |
 * | `datetime.date` | `Date` at 00:00 UTC |
 * | `datetime.time` | {@link PyTime} |
 * | `datetime.timedelta` | {@link PyTimedelta} |
 * | `decimal.Decimal` | `string` (its exact decimal text, e.g. `"-3.14159"`) |
 * | `complex` | {@link PyComplex} |
 * | `uuid.UUID` | `string` (`"12345678-1234-5678-1234-567812345678"`) |
 * | a global mapped in `classes` | what the constructor or function returns (not a `PyValue`) |
 * | a persistent id, with `persistentLoad` | what `persistentLoad` returns (not a `PyValue`) |
 * | any other global, with `allowUnknown` | {@link UnknownObject} |
 */
export type PyValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Buffer
  | Date
  | PyValue[]
  | { [key: string]: PyValue }
  | Map<PyValue, PyValue>
  | Set<PyValue>
  | PyTime
  | PyTimedelta
  | PyComplex
  | UnknownObject;

/** `datetime.time` (a `tzinfo`, if any, is refused). */
export interface PyTime {
  hour: number;
  minute: number;
  second: number;
  microsecond: number;
}

/** `datetime.timedelta`, normalized as Python stores it. */
export interface PyTimedelta {
  days: number;
  seconds: number;
  microseconds: number;
}

/** `complex`. */
export interface PyComplex {
  re: number;
  im: number;
}

/** An inert stand-in for a global that was neither standard nor mapped (`allowUnknown`). */
export interface UnknownObject {
  /** `"module.Name"` of the class or function the stream wanted to call. */
  $global: string;
  /** Its positional arguments; `null` when the stream refers to the global itself. */
  args: PyValue[] | null;
  /** The last `BUILD` state applied (usually the instance `__dict__`), or `null`. */
  state: PyValue;
  /** Keyword arguments (`NEWOBJ_EX`), when any. */
  kwargs?: { [key: string]: PyValue } | Map<PyValue, PyValue>;
  /** Items appended to a list subclass, when any. */
  items?: PyValue[];
  /** `[key, value]` entries set on a dict subclass, when any. */
  entries?: [PyValue, PyValue][];
}

/**
 * A JS constructor or function standing for a Python global. A class (`class X {}`) is
 * called as `new X(...args)`, anything else as `fn(...args)`; keyword arguments
 * (`NEWOBJ_EX`) come as one extra last argument. Each `BUILD` state is then applied with
 * `obj.__setstate__(state)` when the object has that method, else copied onto the
 * object's own properties (both halves of a `(dict, slots)` state).
 */
export type PyClass = (new (...args: any[]) => any) | ((...args: any[]) => any);

export interface LoadsOptions {
  /** `"auto"` (default): plain object when every key is a str, else `Map`; `"map"`: always
   * `Map`; `"object"`: always a plain object, keys converted with `String(key)`. */
  dict?: 'auto' | 'map' | 'object';
  /** Tuples become frozen arrays. Default `false`. */
  frozenTuples?: boolean;
  /** Maps `"module.Name"` to a constructor or function; takes precedence over the
   * standard types. */
  classes?: { [name: string]: PyClass };
  /** Unknown globals become {@link UnknownObject}s instead of an error. Nothing is called. */
  allowUnknown?: boolean;
  /** How Python 2 `str` is read, as `pickle.loads(encoding=...)`. Default `"ascii"`. */
  encoding?: 'ascii' | 'latin1' | 'bytes';
  /** Deepest container nesting accepted. Default 1000. */
  maxDepth?: number;
  /** Most memo entries a stream may create. Default: the stream's length in bytes (16 at least).
   * Beyond it: `ERR_BRINERY_LIMIT`. */
  maxMemo?: number;
  /** Most bytes the decoder may allocate (strings, bytes, nodes). Default: 1 MiB plus
   * 64 bytes per stream byte, so a short stream can never make `loads` allocate much.
   * `Infinity` lifts it. Beyond it: `ERR_BRINERY_LIMIT`. */
  maxAlloc?: number;
  /** Resolves a persistent id (`PERSID`/`BINPERSID`), as `Unpickler.persistent_load`:
   * called with the decoded id (often a string or an array), once per reference in the
   * stream, after decoding; its result stands for the object. Without it, a persistent
   * id is `ERR_BRINERY_UNSUPPORTED`. */
  persistentLoad?: (pid: any) => any;
  /** The copyreg extension registry (`EXT1`/`EXT2`/`EXT4`): maps a code to the
   * `"module.Name"` it stands for, as `copyreg.add_extension(module, name, code)` did
   * where the stream was made. The name then resolves like any global (standard types,
   * `classes`, `allowUnknown`). An unmapped code is `ERR_BRINERY_UNSUPPORTED`. */
  extensions?: { [code: number]: string } | Map<number, string>;
  /** Out-of-band buffers of a protocol 5 stream (`NEXT_BUFFER`), in order, as
   * `pickle.loads(buffers=...)`: each is returned as the very object given (not copied;
   * `READONLY_BUFFER` is not enforced). Too few: `ERR_BRINERY_BUFFER`. */
  buffers?: Iterable<any>;
}

export interface DumpsOptions {
  /** 0 to 5, or -1 for the highest. Default 4, as `pickle.dumps`. */
  protocol?: number;
}

/**
 * Decodes one pickle. Never runs code: globals become values only through `classes`.
 * Bytes after `STOP` are ignored, as `pickle.loads` ignores them. The result is `any`
 * unless a type is named (`loads<PyValue>(data)`, `loads<Row[]>(data)`): nothing checks
 * that the stream holds that type.
 * @throws {BrineryError}
 */
export function loads<T = any>(data: Uint8Array | ArrayBuffer | ArrayBufferView, options?: LoadsOptions): T;

/**
 * Encodes a value into a pickle that stock `pickle.loads` reads: `null`/`undefined` →
 * None, booleans, numbers (integral within ±(2^53 − 1) → int, else float), `bigint` →
 * int, strings → str, `Uint8Array`/`Buffer` → bytes, `Date` → aware UTC
 * `datetime.datetime`, arrays → list, `Map` → dict, `Set` → set, other objects → dict of
 * their own enumerable string keys. Shared and cyclic objects are written once and
 * referenced through the memo.
 * @throws {BrineryError}
 */
export function dumps(value: unknown, options?: DumpsOptions): Buffer;

/** The disassembly `pickletools.dis` prints for one pickle. @throws {BrineryError} */
export function dis(data: Uint8Array | ArrayBuffer | ArrayBufferView): string;

export const HIGHEST_PROTOCOL: number;
export const DEFAULT_PROTOCOL: number;

/** Stable error codes. */
export type BrineryErrorCode =
  | 'ERR_BRINERY_TRUNCATED'
  | 'ERR_BRINERY_UNKNOWN_OPCODE'
  | 'ERR_BRINERY_PROTOCOL'
  | 'ERR_BRINERY_MALFORMED'
  | 'ERR_BRINERY_MEMO'
  | 'ERR_BRINERY_BAD_LENGTH'
  | 'ERR_BRINERY_BAD_ARGUMENT'
  | 'ERR_BRINERY_BAD_UTF8'
  | 'ERR_BRINERY_BUFFER'
  | 'ERR_BRINERY_TOO_DEEP'
  | 'ERR_BRINERY_LIMIT'
  | 'ERR_BRINERY_UNKNOWN_GLOBAL'
  | 'ERR_BRINERY_UNSUPPORTED'
  | 'ERR_BRINERY_ENCODE'
  | 'ERR_BRINERY_UNSUPPORTED_TYPE';

/** Every error brinery throws is an `Error` with these properties. */
export interface BrineryError extends Error {
  code: BrineryErrorCode;
  /** Byte offset in the stream where decoding failed; `undefined` when the error is
   * about a value (an unknown global, a value `dumps` cannot write). */
  offset: number | undefined;
}
