'use strict';
// Strings as generalized UTF-8 (WTF-8) for `dumps`: Python's str may hold lone
// surrogates, and so may a JS string, so they are kept (as Python's `surrogatepass`
// writes them) where `Buffer#write` would replace them. Used by flatten.js for the rare
// text that `Buffer#write` changes; not for decoding (the native side writes JS strings
// from Python's).

// A lone surrogate (`String#isWellFormed` is Node 20+; the regex is the fallback).
const LONE_SURROGATE = /\p{Cs}/u;
const wellFormed = String.prototype.isWellFormed
  ? (s) => s.isWellFormed()
  : (s) => !LONE_SURROGATE.test(s);

// Generalized UTF-8 of `s` into `out` at `o` (lone surrogates kept, as Python's
// `surrogatepass`), for the rare text `Buffer#write` would change; returns the end.
function wtf8(s, out, o) {
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length) {
      const lo = s.charCodeAt(i + 1);
      if (lo >= 0xdc00 && lo < 0xe000) {
        c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
        i++;
      }
    }
    if (c < 0x80) out[o++] = c;
    else if (c < 0x800) {
      out[o++] = 0xc0 | (c >> 6);
      out[o++] = 0x80 | (c & 0x3f);
    } else if (c < 0x10000) {
      out[o++] = 0xe0 | (c >> 12);
      out[o++] = 0x80 | ((c >> 6) & 0x3f);
      out[o++] = 0x80 | (c & 0x3f);
    } else {
      out[o++] = 0xf0 | (c >> 18);
      out[o++] = 0x80 | ((c >> 12) & 0x3f);
      out[o++] = 0x80 | ((c >> 6) & 0x3f);
      out[o++] = 0x80 | (c & 0x3f);
    }
  }
  return o;
}

module.exports = { wellFormed, wtf8 };
