'use strict';
// brinery for Node.js: Python pickles in JavaScript, safely and fast.
//
// The public API (`loads`, `dumps`, `dis`) over the native addon built from `src/`.
// Types and the JS form of every Python type are in `index.d.ts`.

const path = require('node:path');
const { build } = require('./builder');
const { flatten } = require('./walks');

function loadNative() {
  const file = `brinery.${process.platform}-${process.arch}${process.platform === 'linux' ? '-gnu' : ''}.node`;
  return require(path.join(__dirname, file));
}

const native = loadNative();

// The array the native side copies each tape into, kept from one `loads` to the next
// (up to SCRATCH_MAX numbers) so its memory is not allocated and faulted in again.
// A call takes it while it builds: a class mapped in `classes` may call `loads` again.
const SCRATCH_MAX = 2 << 20;
let scratch;

function badOption(message) {
  const err = new TypeError(`brinery: ${message}`);
  err.code = 'ERR_BRINERY_BAD_ARGUMENT';
  err.offset = undefined;
  return err;
}

function toBytes(data, what) {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw badOption(`${what} expects a Buffer, Uint8Array or ArrayBuffer`);
}

function loads(data, options) {
  const bytes = toBytes(data, 'loads');
  const o = options == null ? {} : options;
  if (typeof o !== 'object') throw badOption('options must be an object');
  let classes = null;
  let names;
  if (o.classes != null) {
    if (typeof o.classes !== 'object') throw badOption('classes must be an object of constructors');
    classes = Object.create(null);
    names = [];
    for (const name of Object.keys(o.classes)) {
      const fn = o.classes[name];
      if (typeof fn !== 'function') throw badOption(`classes[${JSON.stringify(name)}] is not a function`);
      classes[name] = fn;
      names.push(name);
    }
  }
  let persistentLoad = null;
  if (o.persistentLoad != null) {
    if (typeof o.persistentLoad !== 'function') throw badOption('persistentLoad must be a function');
    persistentLoad = o.persistentLoad;
  }
  let extensionCodes;
  let extensionNames;
  if (o.extensions != null) {
    if (typeof o.extensions !== 'object') throw badOption('extensions must be an object of "module.Name" strings');
    extensionCodes = [];
    extensionNames = [];
    const entries = o.extensions instanceof Map ? [...o.extensions] : Object.entries(o.extensions);
    for (const [key, name] of entries) {
      const code = Number(key);
      if (!Number.isInteger(code) || code < 1 || code > 0x7fffffff) {
        throw badOption(`extensions: ${JSON.stringify(String(key))} is not an extension code (1 to 2**31 - 1)`);
      }
      if (typeof name !== 'string' || name.length === 0) {
        throw badOption(`extensions[${code}] must be a "module.Name" string`);
      }
      extensionCodes.push(code);
      extensionNames.push(name);
    }
  }
  let buffers = null;
  if (o.buffers != null) {
    if (typeof o.buffers[Symbol.iterator] !== 'function') throw badOption('buffers must be an array');
    buffers = Array.from(o.buffers);
  }
  const nativeOptions = {
    dict: o.dict,
    frozenTuples: o.frozenTuples === true,
    classes: names,
    allowUnknown: o.allowUnknown === true,
    encoding: o.encoding,
    maxDepth: o.maxDepth,
    maxMemo: o.maxMemo,
    maxAlloc: o.maxAlloc,
    persistent: persistentLoad !== null,
    extensionCodes,
    extensionNames,
    buffers: buffers === null ? undefined : buffers.length,
  };
  const mine = scratch;
  scratch = undefined;
  let tape;
  try {
    tape = native.decodeTape(bytes, nativeOptions, mine);
  } catch (e) {
    scratch = mine;
    throw e;
  }
  if (tape.ops === undefined) tape.ops = mine;
  const value = build(tape, { classes, persistentLoad, buffers });
  if (tape.ops.length <= SCRATCH_MAX) scratch = tape.ops;
  return value;
}

function dumps(value, options) {
  const o = options == null ? {} : options;
  let protocol = o.protocol;
  if (protocol === undefined) protocol = native.DEFAULT_PROTOCOL;
  if (protocol === -1) protocol = native.HIGHEST_PROTOCOL;
  if (!Number.isInteger(protocol) || protocol < 0) {
    throw badOption(`protocol must be an integer from 0 to ${native.HIGHEST_PROTOCOL}, or -1`);
  }
  if (protocol > native.HIGHEST_PROTOCOL) {
    // The native side refuses it, as for any protocol, before anything is read.
    return native.dumpsTape(new Float64Array(0), 0, Buffer.alloc(0), 0, true, [], protocol);
  }
  return flatten(value, protocol, (ops, n, text, textLen, ascii, extras, repeats, skips) =>
    native.dumpsTape(ops, n, text, textLen, ascii, extras, protocol, repeats, skips),
  );
}

function dis(data) {
  return native.dis(toBytes(data, 'dis'));
}

module.exports = {
  loads,
  dumps,
  dis,
  HIGHEST_PROTOCOL: native.HIGHEST_PROTOCOL,
  DEFAULT_PROTOCOL: native.DEFAULT_PROTOCOL,
};
