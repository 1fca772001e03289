'use strict';
// The JavaScript half of `dumps`: walks a value, in the order CPython's pickler
// meets the equivalent Python objects, into a flat tape (a Float64Array of ops and
// numbers, the text of every string as UTF-8 in one Uint8Array, and the Uint8Arrays
// and BigInts beside it) that the native `dumpsTape` replays through the core encoder
// in a single N-API call. Objects are memoized by identity here (strings by value, on
// the native side), and plain objects with the same keys share a shape whose keys are
// sent once, so no call crosses N-API per value. Not for decoding (that is builder.js);
// the ops are the `op` module of src/encode.rs.
//
// Identity. A walk first trusts that no object is reached twice: it lists the objects
// it meets (in memo order) and writes each one out in full. Whether that held, the
// native side finds out while it replays the tape: it fingerprints each object's
// contents (src/prints.rs), and returns the objects whose fingerprint another one has
// too; only those are put in a `Set` here (a `Set` add per object was a third of a call
// on 50,000 records). When two of them are one object, the native side writes the same
// tape again, each later visit fetched from the memo (src/encode/skip.rs). A walk that
// stopped early (below) starts again, memoizing the objects it found; a cycle deeper
// than it trusts, or a third walk still wrong, ends in a checking walk that memoizes
// every object. An object a getter changes between two of its visits gets two
// fingerprints and is written twice, each time as it was. No OBJ_REF is in a trusting
// walk's tape unless it memoizes objects found before, and its memo is numbered as the
// checking walk's: without repeats the two tapes are the same.
//
// A trusting walk must not run away on a graph that shares much (a list holding one
// list twice, itself held twice, and so on 40 times over, is 2^40 visits), nor loop in
// a cycle. So it looks for a repeat, as it lists an object, among two small sets: the
// objects on its path (a cycle; the walk gives up on trust deeper than TRUST_DEPTH),
// and the objects it finished whose contents took BIG_OPS ops or more (or
// `Uint8Array`s of BIG_BYTES or more). An object found there ends the walk at once.
// And every CHECK_EVERY objects listed, every SAMPLE-th of them goes into a third set:
// a few small objects reached many times (one record in a list 100,000 times) repeat
// among the samples at once. A repeat the walk does not stop for is of an object with
// little in it (fewer than BIG_OPS ops), found by the fingerprints after the walk.
// (The walk once sampled every 16th object instead, and 16 references to one list of
// 50,000 records took it 1.6 s: the samples of each copy fell on different records.)

const { types } = require('node:util');
const { wellFormed, wtf8 } = require('./wtf8');

const OP = {
  NONE: 0,
  FALSE: 1,
  TRUE: 2,
  INT: 3,
  FLOAT: 4,
  STR: 5,
  KEY_AGAIN: 6,
  OBJ_REF: 7,
  LIST: 8,
  DICT: 9,
  SET: 10,
  SET_OLD: 11,
  BYTES: 12,
  BIGINT: 13,
  DATE: 14,
  KEY: 15,
  SHAPE_NEW: 16,
  SHAPE: 17,
  SHARED: 18,
};

// Deepest nesting followed before failing (CPython's recursion limit is 1000).
const MAX_DEPTH = 1000;
// Ops arrays up to this many numbers, and text buffers up to this many bytes, are kept
// for the next call.
const KEEP_MAX = 4 << 20;
const KEEP_TEXT_MAX = 16 << 20;
// Objects with more keys than this are written key by key, with no shape.
const SHAPE_MAX_KEYS = 32;
// Strings are joined (as a rope) up to about this many UTF-16 units, then encoded.
const CHUNK = 16384;
// See the top: objects a trusting walk remembers as big, and how deep it trusts.
const BIG_OPS = 32;
const BIG_BYTES = 4096;
const TRUST_DEPTH = 64;
const CHECK_EVERY = 4096;
const SAMPLE = 16;
// A trusting walk that listed up to this many objects compares them itself.
const FEW = 16;
// Thrown when a trusting walk finds it was wrong (caught in walks.js).
const REPEATED = Symbol('an object is reached twice');
// The array of the objects a trusting walk meets, emptied, kept up to this many.
const KEEP_LISTED_MAX = 1 << 20;
let spareOps = null;
let spareText = null;
let spareListed = null;

function failure(code, message) {
  const err = new Error(message);
  err.code = code;
  err.offset = undefined;
  return err;
}

const getTime = Date.prototype.getTime;
const getPrototypeOf = Object.getPrototypeOf;
const ObjectPrototype = Object.prototype;

function hasEnumerable(o) {
  for (const k in o) return k !== undefined;
  return false;
}

function sameKeys(a, b) {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

class Walker {
  // `trusting`: list the objects met (see the top); `known`: null, or the objects a
  // trusting walk before this one found reached twice, which this one memoizes.
  constructor(protocol, trusting, known) {
    this.protocol = protocol;
    this.ops = spareOps || new Float64Array(4096);
    spareOps = null;
    this.n = 0;
    // A checking walk's objects met so far, in memo order. A Set answers "new or not"
    // in one lookup; only once some object comes again are they numbered, in `index`.
    this.seen = trusting ? null : new Set();
    this.known = known;
    this.knownAt = known === null ? null : new Map();
    // The objects this trusting walk found reached twice; when the native side found
    // them, the pairs (later visit, first visit) of their places in memo order.
    this.found = null;
    this.skips = null;
    this.index = null;
    // When trusting: the objects met, in memo order (`listed[..count]`; the array is
    // kept from call to call, and growing a fresh one cost 7% of a call on `records`);
    // the objects on the path, by depth; the big objects finished (see the top).
    this.listed = trusting ? spareListed || [] : null;
    if (trusting) spareListed = null;
    this.count = 0;
    this.path = trusting ? [] : null;
    this.bigs = null;
    this.samples = null;
    this.checkAt = CHECK_EVERY;
    // Object keys met so far, numbered: keys repeat from object to object, and sending
    // their text again (and hashing it on the native side) costs more than this lookup.
    this.keys = new Map();
    // Key lists of plain objects, by their first key: { keys, id }.
    this.shapes = new Map();
    this.shapeCount = 0;
    this.lastShape = null;
    // Strings not yet encoded, as one rope; the UTF-8 written so far.
    this.rope = '';
    this.text = spareText || Buffer.allocUnsafe(1 << 16);
    spareText = null;
    this.textLen = 0;
    this.ascii = true;
    this.extras = [];
    this.depth = 0;
    // Whether `for...in` over a plain object lists its own keys alone (asked at the
    // first plain object, so that a call without one does not pay for it).
    this.plainForIn = null;
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

  // Encodes the rope into `text`. A string ending in a high surrogate is flushed alone
  // (see `str`), so no surrogate pair is formed across two strings.
  flush() {
    const s = this.rope;
    if (s.length === 0) return;
    this.rope = '';
    const room = s.length * 3;
    if (this.text.length - this.textLen < room) {
      const bigger = Buffer.allocUnsafe(Math.max(this.text.length * 2, this.textLen + room));
      this.text.copy(bigger, 0, 0, this.textLen);
      this.text = bigger;
    }
    const written = this.text.write(s, this.textLen);
    if (written !== s.length) {
      this.ascii = false;
      if (!wellFormed(s)) {
        this.textLen = wtf8(s, this.text, this.textLen);
        return;
      }
    }
    this.textLen += written;
  }

  str(v) {
    const n = v.length;
    this.op(OP.STR, n);
    if (n !== 0 && (v.charCodeAt(n - 1) & 0xfc00) === 0xd800) {
      this.flush();
      this.rope = v;
      this.flush();
    } else {
      this.rope += v;
      if (this.rope.length >= CHUNK) this.flush();
    }
  }

  save(v) {
    if (typeof v === 'string') this.str(v);
    else if (typeof v === 'number') {
      this.op(Number.isSafeInteger(v) && !(v === 0 && 1 / v < 0) ? OP.INT : OP.FLOAT, v);
    } else if (typeof v === 'object') {
      if (v === null) this.op(OP.NONE, 0);
      else this.object(v);
    } else if (typeof v === 'boolean') this.op(v ? OP.TRUE : OP.FALSE, 0);
    else if (v === undefined) this.op(OP.NONE, 0);
    else if (typeof v === 'bigint') {
      this.op(OP.BIGINT, this.extras.length);
      this.extras.push(v);
    } else {
      throw failure('ERR_BRINERY_UNSUPPORTED_TYPE', 'functions, symbols and externals cannot be pickled');
    }
  }

  // Whether `v` was memoized before (then its OBJ_REF is written); else memoizes it now,
  // unless `later`.
  again(v, later) {
    const listed = this.listed;
    if (listed !== null) {
      const known = this.known;
      if (known !== null && known.has(v)) {
        const at = this.knownAt.get(v);
        if (at !== undefined) {
          this.op(OP.OBJ_REF, at);
          return true;
        }
        if (!later) {
          this.knownAt.set(v, this.count);
          this.op(OP.SHARED, 0);
        }
      }
      const path = this.path;
      for (let i = 0; i < this.depth; i++) {
        if (path[i] === v) this.repeat(v);
      }
      if (this.bigs !== null && this.bigs.has(v)) this.repeat(v);
      if (!later) this.list(v);
      return false;
    }
    if (this.index === null) {
      const seen = this.seen;
      if (later) {
        if (!seen.has(v)) return false;
      } else {
        const size = seen.size;
        if (seen.add(v).size !== size) return false;
      }
      this.index = new Map();
      for (const o of seen) this.index.set(o, this.index.size);
    }
    const k = this.index.get(v);
    if (k !== undefined) {
      this.op(OP.OBJ_REF, k);
      return true;
    }
    if (!later) this.index.set(v, this.index.size);
    return false;
  }

  list(v) {
    this.listed[this.count++] = v;
    if (this.count >= this.checkAt) this.sample();
  }

  // Puts every SAMPLE-th object listed since the last time in `samples` (see the top).
  sample() {
    if (this.samples === null) this.samples = new Set();
    const { listed, samples } = this;
    for (let i = this.checkAt - CHECK_EVERY; i < this.checkAt; i += SAMPLE) {
      const size = samples.size;
      if (samples.add(listed[i]).size === size) this.repeat(listed[i]);
    }
    this.checkAt += CHECK_EVERY;
  }

  // Ends a trusting walk that met `v` again.
  repeat(v) {
    this.foundOne(v);
    throw REPEATED;
  }

  foundOne(v) {
    if (this.found === null) this.found = new Set();
    this.found.add(v);
  }

  // Whether two of the (at most FEW) objects listed are one (then they are `found`).
  fewRepeated() {
    const listed = this.listed;
    for (let i = 1; i < this.count; i++) {
      for (let j = 0; j < i; j++) if (listed[i] === listed[j]) this.foundOne(listed[i]);
    }
    return this.found !== null;
  }

  // Whether two of the objects the native side found alike (`repeats`: their count,
  // then their places in memo order) are one (then they are `found`, and `skips` holds
  // each later visit beside the first, in memo order).
  repeated(repeats) {
    const n = repeats[0];
    if (n === 0) return false;
    const first = new Map();
    for (let i = 1; i <= n; i++) {
      const at = repeats[i];
      const v = this.listed[at];
      const f = first.get(v);
      if (f === undefined || at < f) first.set(v, at);
    }
    if (first.size === n) return false;
    const pairs = [];
    for (let i = 1; i <= n; i++) {
      const at = repeats[i];
      const v = this.listed[at];
      const f = first.get(v);
      if (f !== at) {
        pairs.push([at, f]);
        this.foundOne(v);
      }
    }
    pairs.sort((a, b) => a[0] - b[0]);
    this.skips = new Uint32Array(pairs.flat());
    return true;
  }

  // Memoizes `v` after its items (a set below protocol 4).
  memoLater(v) {
    if (this.listed !== null) this.list(v);
    else if (this.index === null) this.seen.add(v);
    else this.index.set(v, this.index.size);
  }

  object(v) {
    const start = this.n;
    if (Array.isArray(v)) {
      if (this.again(v, false)) return;
      this.enter(v);
      const n = v.length;
      this.op(OP.LIST, n);
      for (let i = 0; i < n; i++) this.save(v[i]);
      this.leave(v, start);
      return;
    }
    // An object whose prototype is Object.prototype or null is a record: no type test
    // (`types.isDate` is a call into C++) can change that, short of an exotic object
    // re-prototyped by hand.
    const proto = getPrototypeOf(v);
    if (proto === ObjectPrototype || proto === null) {
      if (this.again(v, false)) return;
      this.enter(v);
      if (this.plainForIn === null) this.plainForIn = !hasEnumerable(ObjectPrototype);
      this.record(v, this.plainForIn);
      this.leave(v, start);
      return;
    }
    const setOld = this.protocol < 4 && v instanceof Set;
    if (this.again(v, setOld)) return;
    this.enter(v);
    if (ArrayBuffer.isView(v) && types.isTypedArray(v)) {
      if (!types.isUint8Array(v) && !types.isUint8ClampedArray(v)) {
        throw failure('ERR_BRINERY_UNSUPPORTED_TYPE', 'typed arrays other than Uint8Array cannot be pickled');
      }
      this.op(OP.BYTES, this.extras.length);
      this.extras.push(v);
      if (v.byteLength >= BIG_BYTES && this.path !== null) this.big(v);
    } else if (types.isDate(v)) {
      const ms = getTime.call(v);
      const year = Number.isFinite(ms) ? new Date(ms).getUTCFullYear() : 0;
      if (year < 1 || year > 9999) {
        throw failure('ERR_BRINERY_ENCODE', 'only valid Dates in years 1 to 9999 can be pickled');
      }
      this.op(OP.DATE, ms);
    } else if (v instanceof Map) {
      const pairs = Array.from(v);
      this.op(OP.DICT, pairs.length);
      for (const pair of pairs) {
        this.save(pair[0]);
        this.save(pair[1]);
      }
    } else if (v instanceof Set) {
      const items = Array.from(v);
      // `set([items])` below protocol 4, memoized after its items as `save_set` does.
      this.op(setOld ? OP.SET_OLD : OP.SET, items.length);
      for (const item of items) this.save(item);
      if (setOld) this.memoLater(v);
    } else {
      this.record(v, false);
    }
    this.leave(v, start);
  }

  // `v` is the object at the next depth.
  enter(v) {
    const d = this.depth++;
    if (this.path !== null) {
      // Deeper data is left to the checking walk.
      if (d >= TRUST_DEPTH) throw REPEATED;
      this.path[d] = v;
    } else if (d >= MAX_DEPTH) {
      throw failure('ERR_BRINERY_TOO_DEEP', `nesting deeper than the limit of ${MAX_DEPTH}`);
    }
  }

  // `v`, started at op `start`, is done.
  leave(v, start) {
    this.depth--;
    if (this.path !== null) {
      this.path[this.depth] = undefined;
      // Two numbers of the tape per op.
      if (this.n - start >= 2 * BIG_OPS) this.big(v);
    }
  }

  big(v) {
    if (this.bigs === null) this.bigs = new Set();
    this.bigs.add(v);
  }

  // A plain object: as a dict of its own enumerable string keys. Its key list is looked
  // up among the shapes met so far; a known shape sends only the values. A shape whose
  // first object is still being written (an object of the same keys is among its
  // values) is not used yet: the native side learns its keys one by one, with those
  // values in between, and has only some of them then.
  record(v, plain) {
    const last = this.lastShape;
    if (plain && last !== null && !last.open && this.sameShape(v, last.keys)) {
      this.shaped(v, last);
      return;
    }
    const keys = Object.keys(v);
    const n = keys.length;
    if (n === 0 || n > SHAPE_MAX_KEYS) {
      this.dict(v, keys);
      return;
    }
    let shape = this.lastShape;
    if (shape === null || shape.keys.length !== n || !sameKeys(shape.keys, keys)) {
      shape = null;
      const list = this.shapes.get(keys[0]);
      if (list !== undefined) {
        for (const s of list) {
          if (s.keys.length === n && sameKeys(s.keys, keys)) {
            shape = s;
            break;
          }
        }
      }
    }
    if (shape !== null) {
      if (shape.open) {
        this.dict(v, keys);
        return;
      }
      this.lastShape = shape;
      this.op(OP.SHAPE, shape.id);
      for (let i = 0; i < n; i++) this.save(v[keys[i]]);
      return;
    }
    shape = { keys, id: this.shapeCount++, open: true };
    const list = this.shapes.get(keys[0]);
    if (list === undefined) this.shapes.set(keys[0], [shape]);
    else list.push(shape);
    this.lastShape = shape;
    this.op(OP.SHAPE_NEW, n);
    for (let i = 0; i < n; i++) {
      this.key(keys[i]);
      this.save(v[keys[i]]);
    }
    shape.open = false;
  }

  // `v` as a dict of `keys`, each sent.
  dict(v, keys) {
    this.op(OP.DICT, keys.length);
    for (const key of keys) {
      this.key(key);
      this.save(v[key]);
    }
  }

  // Whether the own enumerable keys of `v` (a plain object, when Object.prototype has no
  // enumerable keys) are `keys`, in order. `for...in` reads V8's enum cache of the
  // object's hidden class: no key array is made, as Object.keys makes one.
  sameShape(v, keys) {
    const n = keys.length;
    let i = 0;
    for (const k in v) {
      if (i === n || keys[i] !== k) return false;
      i++;
    }
    return i === n;
  }

  // The values of `v`, a plain object of the keys of `shape` (see `sameShape`). A getter
  // may change `v` meanwhile: the values are still those of the shape's keys.
  shaped(v, shape) {
    const keys = shape.keys;
    const n = keys.length;
    this.op(OP.SHAPE, shape.id);
    let i = 0;
    for (const k in v) {
      if (i === n) break;
      // Loaded by the loop's key, a field load from the enum cache.
      this.save(k === keys[i] ? v[k] : v[keys[i]]);
      i++;
    }
    for (; i < n; i++) this.save(v[keys[i]]);
  }

  key(key) {
    const k = this.keys.get(key);
    if (k === undefined) {
      this.keys.set(key, this.keys.size);
      this.str(key);
      this.ops[this.n - 2] = OP.KEY;
    } else {
      this.op(OP.KEY_AGAIN, k);
    }
  }
}

// Keeps the arrays of `w`'s trusting walk for the next call, holding none of its objects.
function keepListed(w) {
  const listed = w.listed;
  if (listed === null || listed.length > KEEP_LISTED_MAX) return;
  listed.fill(undefined, 0, w.count);
  w.listed = null;
  spareListed = listed;
}

// Gives `w`'s buffers to the next walk.
function recycle(w) {
  keepListed(w);
  spareOps = w.ops;
  spareText = w.text;
}

// Keeps `w`'s buffers for the next call, up to their caps.
function release(w) {
  keepListed(w);
  if (w.ops.length <= KEEP_MAX) spareOps = w.ops;
  if (w.text.length <= KEEP_TEXT_MAX) spareText = w.text;
}

module.exports = { Walker, OP, REPEATED, FEW, recycle, release };
