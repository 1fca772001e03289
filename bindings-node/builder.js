'use strict';
// Turns the tape written by `src/decode.rs` into JavaScript values.
//
// The tape is a Float64Array of opcodes (numbers must match `src/tape.rs`; the array may
// be longer than the tape, and hold the longest list of numbers from `numsAt`), one string
// holding all text in order, and one Buffer holding all bytes payloads in order. A
// string cut from the text that the tape fetches again (`keep`) goes to the string
// table (`strs`); a shape is a template object that every dict of its key set is cloned
// from, values then stored in key order. The
// loop below is iterative (an explicit stack, no recursion), creates every container
// before its children so cycles resolve, and never lets a key reach a prototype.
// It decides nothing about Python semantics: that happened in Rust.

const NONE = 0;
const FALSE = 1;
const TRUE = 2;
const NUM = 3;
const STR = 4;
const BIGINT = 5;
const BYTES = 6;
const LIST = 7;
const TUPLE = 8;
const OBJECT = 9;
const MAP = 10;
const SET = 11;
const REF = 12;
const DATE = 13;
const NUMS = 14;
const STRS = 15;
const CALL = 16;
const GLOBAL = 17;
const SREF = 18;
const KEYS = 19;
const SHAPE = 20;
const PERSID = 21;
const OOB = 22;
const NUMX = 23;
const INTS = 24;
const INTX = 25;

// Frame kinds.
const K_ROOT = 0;
const K_LIST = 1;
const K_TUPLE = 2;
const K_OBJECT = 3;
const K_MAP = 4;
const K_SET = 5;
const K_CALL = 6;
const K_SHAPE = 7;
const K_PERSID = 8;

const defineProperty = Object.defineProperty;
const hasOwn = Object.prototype.hasOwnProperty;

function setKey(obj, key, value) {
  if (typeof key !== 'string') key = String(key);
  if (key === '__proto__') {
    defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
  } else {
    obj[key] = value;
  }
}

function isClass(fn) {
  return /^class[\s{]/.test(Function.prototype.toString.call(fn));
}

// The value a CALL becomes once name, args and kwargs are known.
function create(parts, classes) {
  const name = parts[0];
  const args = parts[1];
  const kwargs = parts[2];
  if (classes !== null && hasOwn.call(classes, name)) {
    const fn = classes[name];
    const callArgs = kwargs === null ? args : args.concat([kwargs]);
    return isClass(fn) ? new fn(...callArgs) : fn(...callArgs);
  }
  const inert = { $global: name, args, state: null };
  if (kwargs !== null) inert.kwargs = kwargs;
  return inert;
}

// Applies BUILD states, appended items and set entries to a created object.
function finish(obj, parts, classes) {
  const states = parts[3];
  const items = parts[4];
  const entries = parts[5];
  const mapped = classes !== null && hasOwn.call(classes, parts[0]);
  if (!mapped) {
    if (states.length > 0) obj.state = states[states.length - 1];
    if (items.length > 0) obj.items = items;
    if (entries.length > 0) obj.entries = entries;
    return;
  }
  // A mapped function may return a primitive: there is nothing to apply state to.
  if (obj === null || (typeof obj !== 'object' && typeof obj !== 'function')) return;
  for (const state of states) {
    if (typeof obj.__setstate__ === 'function') {
      obj.__setstate__(state);
    } else {
      applyState(obj, state);
    }
  }
  for (const item of items) {
    if (typeof obj.push === 'function') obj.push(item);
    else if (typeof obj.add === 'function') obj.add(item);
  }
  for (const [k, v] of entries) {
    if (obj instanceof Map) obj.set(k, v);
    else setKey(obj, k, v);
  }
}

// `obj.__dict__.update(state)`, or both halves of a `(dict, slots)` state.
function applyState(obj, state) {
  const parts = Array.isArray(state) && state.length === 2 ? state : [state];
  for (const part of parts) {
    if (part === null || typeof part !== 'object') continue;
    if (part instanceof Map) {
      for (const [k, v] of part) setKey(obj, k, v);
    } else {
      for (const k of Object.keys(part)) setKey(obj, k, part[k]);
    }
  }
}

function build(tape, options) {
  const ops = tape.ops;
  const text = tape.text;
  const blob = tape.blob;
  const slots = tape.slots > 0 ? new Array(tape.slots) : null;
  // Only the strings the tape fetches again (`keep`: their numbers, ascending) are
  // stored in the table, the kth of them at k.
  const keep = tape.keep;
  const strs = keep.length > 0 ? new Array(keep.length) : null;
  let ki = 0;
  let nextKeep = keep.length > 0 ? keep[0] : -1;
  const templates = [];
  const shapeKeys = [];
  const classes = options.classes;
  let p = 0;
  let sp = 0;
  let si = 0;
  let bp = 0;
  const stack = [];
  let cur = null;
  let kind = K_ROOT;
  let idx = 0;
  let n = 1;
  let key;
  for (;;) {
    const op = ops[p++];
    let v;
    switch (op) {
      case NUM:
        v = ops[p++];
        break;
      case STR: {
        const start = sp;
        sp += ops[p++];
        v = text.slice(start, sp);
        if (si++ === nextKeep) {
          strs[ki++] = v;
          nextKeep = keep[ki];
        }
        break;
      }
      case SREF:
        v = strs[-1 - ops[p++]];
        break;
      case NONE:
        v = null;
        break;
      case FALSE:
        v = false;
        break;
      case TRUE:
        v = true;
        break;
      case REF:
        v = slots[ops[p++]];
        break;
      case NUMS:
      case INTS:
      case NUMX:
      case INTX: {
        // A list of numbers, in the tape or (X) after its end, from `numsAt`. Int32s
        // go through `| 0` so V8 stores small integers, not doubles (src/tape.rs).
        const len = ops[p];
        const slot = ops[p + 1];
        p += 2;
        const inline = op === NUMS || op === INTS;
        const at = inline ? p : tape.numsAt;
        const a = new Array(len);
        if (op === INTS || op === INTX) {
          for (let i = 0; i < len; i++) a[i] = ops[at + i] | 0;
        } else {
          for (let i = 0; i < len; i++) a[i] = ops[at + i];
        }
        if (inline) p += len;
        if (slot >= 0) slots[slot] = a;
        v = a;
        break;
      }
      case STRS: {
        const len = ops[p];
        const slot = ops[p + 1];
        p += 2;
        const a = new Array(len);
        for (let i = 0; i < len; i++) {
          const e = ops[p + i];
          if (e >= 0) {
            const start = sp;
            sp += e;
            const s = text.slice(start, sp);
            if (si++ === nextKeep) {
              strs[ki++] = s;
              nextKeep = keep[ki];
            }
            a[i] = s;
          } else {
            a[i] = strs[-1 - e];
          }
        }
        p += len;
        if (slot >= 0) slots[slot] = a;
        v = a;
        break;
      }
      case KEYS: {
        // Defines the next shape; no value.
        const len = ops[p++];
        const keys = new Array(len);
        const template = {};
        for (let i = 0; i < len; i++) {
          const e = ops[p + i];
          let s;
          if (e >= 0) {
            const start = sp;
            sp += e;
            s = text.slice(start, sp);
            if (si++ === nextKeep) {
              strs[ki++] = s;
              nextKeep = keep[ki];
            }
          } else {
            s = strs[-1 - e];
          }
          keys[i] = s;
          setKey(template, s, null);
        }
        p += len;
        templates.push(template);
        shapeKeys.push(keys);
        continue;
      }
      case BIGINT: {
        const negative = ops[p];
        const start = sp;
        sp += ops[p + 1];
        p += 2;
        const big = BigInt('0x' + text.slice(start, sp));
        v = negative ? -big : big;
        break;
      }
      case BYTES: {
        const start = bp;
        bp += ops[p];
        v = blob.subarray(start, bp);
        if (ops[p + 1] >= 0) slots[ops[p + 1]] = v;
        p += 2;
        break;
      }
      case OOB:
        v = options.buffers[ops[p]];
        if (ops[p + 1] >= 0) slots[ops[p + 1]] = v;
        p += 2;
        break;
      case PERSID:
        // One value follows, the persistent id; the frame's `key` holds the slot.
        stack.push(cur, kind, idx, n, key);
        cur = null;
        key = ops[p++];
        kind = K_PERSID;
        idx = 0;
        n = 1;
        continue;
      case DATE:
        v = new Date(ops[p]);
        if (ops[p + 1] >= 0) slots[ops[p + 1]] = v;
        p += 2;
        break;
      case LIST:
      case TUPLE:
      case OBJECT:
      case MAP:
      case SET:
      case SHAPE:
      case CALL:
      case GLOBAL: {
        let len;
        let slot;
        if (op === CALL || op === GLOBAL) {
          len = op === CALL ? 6 : 1;
          slot = ops[p++];
        } else {
          len = ops[p];
          slot = ops[p + 1];
          p += 2;
        }
        let c;
        let k;
        switch (op) {
          case LIST:
            c = new Array(len);
            k = K_LIST;
            break;
          case TUPLE:
            c = new Array(len);
            k = K_TUPLE;
            break;
          case OBJECT:
            c = {};
            k = K_OBJECT;
            len *= 2;
            break;
          case MAP:
            c = new Map();
            k = K_MAP;
            len *= 2;
            break;
          case SET:
            c = new Set();
            k = K_SET;
            break;
          case SHAPE:
            // `len` is the shape's number: every key already exists on the clone.
            c = { ...templates[len] };
            k = K_SHAPE;
            stack.push(cur, kind, idx, n, key);
            key = shapeKeys[len];
            len = key.length;
            if (slot >= 0) slots[slot] = c;
            cur = c;
            kind = k;
            idx = 0;
            n = len;
            continue;
          default:
            // CALL and GLOBAL collect their parts; the object exists once the name,
            // args and kwargs are known (see K_CALL below), so its slot is set then.
            c = new Array(len);
            c.slot = slot;
            c.global = op === GLOBAL;
            k = K_CALL;
            slot = -1;
        }
        if (slot >= 0) slots[slot] = c;
        if (len === 0) {
          v = k === K_TUPLE ? Object.freeze(c) : c;
          break;
        }
        stack.push(cur, kind, idx, n, key);
        cur = c;
        kind = k;
        idx = 0;
        n = len;
        continue;
      }
      default:
        throw new Error(`brinery: corrupt tape opcode ${op} at ${p - 1}`);
    }
    // Deliver `v` to the open container; close every container it completes.
    for (;;) {
      switch (kind) {
        case K_LIST:
        case K_TUPLE:
          cur[idx++] = v;
          break;
        case K_OBJECT:
          if (idx & 1) setKey(cur, key, v);
          else key = v;
          idx++;
          break;
        case K_MAP:
          if (idx & 1) cur.set(key, v);
          else key = v;
          idx++;
          break;
        case K_SET:
          cur.add(v);
          idx++;
          break;
        case K_SHAPE:
          cur[key[idx++]] = v;
          break;
        case K_PERSID:
          v = options.persistentLoad(v);
          if (key >= 0) slots[key] = v;
          idx++;
          break;
        case K_CALL:
          cur[idx++] = v;
          if (cur.global) {
            const name = cur[0];
            v = classes !== null && hasOwn.call(classes, name) ? classes[name] : { $global: name, args: null, state: null };
            if (cur.slot >= 0) slots[cur.slot] = v;
          } else if (idx === 3) {
            const obj = create(cur, classes);
            cur.obj = obj;
            if (cur.slot >= 0) slots[cur.slot] = obj;
          } else if (idx === 6) {
            finish(cur.obj, cur, classes);
            v = cur.obj;
          }
          break;
        default:
          return v;
      }
      if (idx < n) break;
      if (kind === K_TUPLE) Object.freeze(cur);
      if (kind !== K_CALL && kind !== K_PERSID) v = cur;
      key = stack.pop();
      n = stack.pop();
      idx = stack.pop();
      kind = stack.pop();
      cur = stack.pop();
    }
  }
}

module.exports = { build };
