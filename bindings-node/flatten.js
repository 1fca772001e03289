'use strict';
// The JavaScript half of `dumps`: walks a value once, in the order CPython's pickler
// meets the equivalent Python objects, into a flat tape (a Float64Array of ops and
// numbers, every new string's text joined into one string, and the Uint8Arrays and
// BigInts beside it) that the native `dumpsTape` replays through the core encoder in
// a single N-API call. Objects are memoized by identity here, in a JS Map (strings are
// memoized by value on the native side), so no call crosses N-API per value. Not for
// decoding (that is builder.js); the ops are the `Op` enum of src/encode.rs.

const { types } = require('node:util');

const OP = {
  NONE: 0,
  FALSE: 1,
  TRUE: 2,
  INT: 3,
  FLOAT: 4,
  STR: 5,
  KEY_AGAIN: 6,
  KEY: 15,
  OBJ_REF: 7,
  LIST: 8,
  DICT: 9,
  SET: 10,
  SET_OLD: 11,
  BYTES: 12,
  BIGINT: 13,
  DATE: 14,
};

// Deepest nesting followed before failing (CPython's recursion limit is 1000).
const MAX_DEPTH = 1000;
// Ops arrays up to this many numbers are kept for the next call.
const KEEP_MAX = 2 << 20;
let spare = null;

function failure(code, message) {
  const err = new Error(message);
  err.code = code;
  err.offset = undefined;
  return err;
}

const getTime = Date.prototype.getTime;

class Walker {
  constructor(protocol) {
    this.protocol = protocol;
    this.ops = spare || new Float64Array(4096);
    spare = null;
    this.n = 0;
    this.objects = new Map();
    this.parts = [];
    // Object keys met so far, numbered: keys repeat from object to object, and sending
    // their text again (and hashing it on the native side) costs more than this lookup.
    this.keys = new Map();
    this.extras = [];
    this.depth = 0;
  }

  grow() {
    const bigger = new Float64Array(this.ops.length * 2);
    bigger.set(this.ops);
    this.ops = bigger;
  }

  op(code, x) {
    if (this.n + 2 > this.ops.length) this.grow();
    this.ops[this.n++] = code;
    this.ops[this.n++] = x;
  }

  save(v) {
    switch (typeof v) {
      case 'undefined':
        this.op(OP.NONE, 0);
        return;
      case 'boolean':
        this.op(v ? OP.TRUE : OP.FALSE, 0);
        return;
      case 'number':
        this.op(Number.isSafeInteger(v) && !(v === 0 && 1 / v < 0) ? OP.INT : OP.FLOAT, v);
        return;
      case 'string':
        // Deduplicated by value on the native side, where hashing costs less.
        this.parts.push(v);
        this.op(OP.STR, v.length);
        return;
      case 'bigint':
        this.op(OP.BIGINT, this.extras.length);
        this.extras.push(v);
        return;
      case 'object':
        if (v === null) this.op(OP.NONE, 0);
        else this.object(v);
        return;
      default:
        throw failure('ERR_BRINERY_UNSUPPORTED_TYPE', 'functions, symbols and externals cannot be pickled');
    }
  }

  memo(v) {
    this.objects.set(v, this.objects.size);
  }

  object(v) {
    const k = this.objects.get(v);
    if (k !== undefined) {
      this.op(OP.OBJ_REF, k);
      return;
    }
    if (++this.depth > MAX_DEPTH) {
      throw failure('ERR_BRINERY_TOO_DEEP', `nesting deeper than the limit of ${MAX_DEPTH}`);
    }
    if (Array.isArray(v)) {
      this.memo(v);
      const n = v.length;
      this.op(OP.LIST, n);
      for (let i = 0; i < n; i++) this.save(v[i]);
    } else if (ArrayBuffer.isView(v) && types.isTypedArray(v)) {
      if (!types.isUint8Array(v) && !types.isUint8ClampedArray(v)) {
        throw failure('ERR_BRINERY_UNSUPPORTED_TYPE', 'typed arrays other than Uint8Array cannot be pickled');
      }
      this.op(OP.BYTES, this.extras.length);
      this.extras.push(v);
      this.memo(v);
    } else if (types.isDate(v)) {
      const ms = getTime.call(v);
      const year = Number.isFinite(ms) ? new Date(ms).getUTCFullYear() : 0;
      if (year < 1 || year > 9999) {
        throw failure('ERR_BRINERY_ENCODE', 'only valid Dates in years 1 to 9999 can be pickled');
      }
      this.op(OP.DATE, ms);
      this.memo(v);
    } else if (v instanceof Map) {
      this.memo(v);
      const pairs = Array.from(v);
      this.op(OP.DICT, pairs.length);
      for (const pair of pairs) {
        this.save(pair[0]);
        this.save(pair[1]);
      }
    } else if (v instanceof Set) {
      const items = Array.from(v);
      if (this.protocol < 4) {
        // `set([items])` is memoized after its items, as `save_set` writes it.
        this.op(OP.SET_OLD, items.length);
        for (const item of items) this.save(item);
        this.memo(v);
      } else {
        this.memo(v);
        this.op(OP.SET, items.length);
        for (const item of items) this.save(item);
      }
    } else {
      this.memo(v);
      const keys = Object.keys(v);
      this.op(OP.DICT, keys.length);
      for (const key of keys) {
        const k = this.keys.get(key);
        if (k === undefined) {
          this.keys.set(key, this.keys.size);
          this.parts.push(key);
          this.op(OP.KEY, key.length);
        } else {
          this.op(OP.KEY_AGAIN, k);
        }
        this.save(v[key]);
      }
    }
    this.depth--;
  }
}

// Calls `write(ops, n, text, extras)` with the tape of `value`.
function flatten(value, protocol, write) {
  const w = new Walker(protocol);
  let out;
  try {
    w.save(value);
    out = write(w.ops, w.n, w.parts.join(''), w.extras);
  } finally {
    if (w.ops.length <= KEEP_MAX) spare = w.ops;
  }
  return out;
}

module.exports = { flatten, OP };
