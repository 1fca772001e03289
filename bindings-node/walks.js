'use strict';
// The walks one `dumps` makes of a value (see the top of flatten.js): trusting walks,
// the native side's second replay of a tape whose objects repeat, and at last a walk
// that checks every object. Not for the walk itself (flatten.js) or the opcodes
// (src/encode.rs).

const { Walker, REPEATED, FEW, recycle, release } = require('./flatten');

// What `trusted` returns when the walk was wrong.
const NOT_TRUSTED = Symbol('not trusted');
// Trusting walks tried, each knowing the repeats the ones before found, before a
// checking walk.
const TRUSTING_WALKS = 3;
// A value of which a trusting walk found at least REPEATS_MIN objects reached twice,
// and more than one object in REPEATS_MANY, is written by a checking walk, and so are
// the values of the next DISTRUST_CALLS calls: data whose small objects are each
// reached twice or more (a list and an index of the same records) costs a trusting
// walk about three times a checking one, and a program tends to write such data again.
// The stream is the same either way.
const REPEATS_MIN = 1024;
const REPEATS_MANY = 16;
const DISTRUST_CALLS = 16;
let distrust = 0;
// The array for the native side's repeats, kept up to this many numbers.
const KEEP_REPEATS_MAX = 1 << 20;
let spareRepeats = null;

// A Uint32Array of at least `n` numbers for the native side's repeats (see
// `Walker#repeated`).
function repeatsArray(n) {
  if (spareRepeats !== null && spareRepeats.length >= n) return spareRepeats;
  const a = new Uint32Array(Math.max(n, 64));
  if (n <= KEEP_REPEATS_MAX) spareRepeats = a;
  return a;
}

// The tape of `value` through `write`, as the trusting walk `w` writes it; NOT_TRUSTED
// when some object is reached twice after all (they are then in `w.found`, unless the
// walk went too deep, in a cycle).
function trusted(w, value, write) {
  try {
    w.save(value);
  } catch (err) {
    if (err === REPEATED) return NOT_TRUSTED;
    throw err;
  }
  w.flush();
  // A few objects are compared here, pair by pair; more are fingerprinted.
  if (w.count <= FEW) {
    if (w.fewRepeated()) return NOT_TRUSTED;
    return write(w.ops, w.n, w.text, w.textLen, w.ascii, w.extras, null);
  }
  const repeats = repeatsArray(w.count + 1);
  const out = write(w.ops, w.n, w.text, w.textLen, w.ascii, w.extras, repeats);
  return w.repeated(repeats) ? NOT_TRUSTED : out;
}

// Calls `write(ops, n, text, textLen, ascii, extras, repeats, skips)` with the tape of
// `value`, as a trusting walk writes it, with `repeats` an array for the objects it
// finds alike (see the top of flatten.js). When some object is reached twice after
// all, and the native side found it, the same tape is written again with `skips` (each
// later visit and the first one, src/encode/skip.rs), which returns null when a later
// visit is not as the first was; else the walk starts again, memoizing the objects
// found so far (up to TRUSTING_WALKS walks); when one was too deep to tell, or the last
// one was still wrong, a checking walk memoizes every object (and `repeats` is null).
function flatten(value, protocol, write) {
  let w = null;
  let known = null;
  try {
    const walks = distrust > 0 ? 0 : TRUSTING_WALKS;
    if (distrust > 0) distrust--;
    for (let walk = 0; walk < walks; walk++) {
      if (w !== null) recycle(w);
      w = new Walker(protocol, true, known);
      const out = trusted(w, value, write);
      if (out !== NOT_TRUSTED) return out;
      const found = w.found === null ? 0 : w.found.size;
      if (found >= REPEATS_MIN && found * REPEATS_MANY > w.count) {
        distrust = DISTRUST_CALLS;
        break;
      }
      // The whole tape written, the native side can write it again with the later
      // visits fetched from the memo (not below protocol 4, where a set is memoized
      // after its items), unless one of them is not as the first was.
      if (w.skips !== null && protocol >= 4) {
        const again = write(w.ops, w.n, w.text, w.textLen, w.ascii, w.extras, null, w.skips);
        if (again !== null) return again;
      }
      if (w.found === null) break;
      if (known === null) known = w.found;
      else for (const v of w.found) known.add(v);
    }
    if (w !== null) recycle(w);
    w = new Walker(protocol, false, null);
    w.save(value);
    w.flush();
    return write(w.ops, w.n, w.text, w.textLen, w.ascii, w.extras, null);
  } finally {
    if (w !== null) release(w);
  }
}

module.exports = { flatten };
