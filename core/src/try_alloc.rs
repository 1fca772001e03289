//! Allocations whose size a stream decides, made fallibly: a payload copy or a node
//! arena that the allocator refuses (a process under an address-space cap, a big
//! stream on a small machine) becomes an `OUT_OF_MEMORY` error of the decode or encode
//! call instead of the abort `Vec`'s infallible growth would be. Hosts link the core
//! into C programs and Node processes, which must not die for one big input; a binding
//! copying a caller's data into a value uses these too (the C builder's pushes).

use alloc::string::String;
use alloc::vec::Vec;

/// A copy of `items`, or `None` without the memory.
#[inline]
pub fn copy<T: Copy>(items: &[T]) -> Option<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(items.len()).ok()?;
    v.extend_from_slice(items);
    Some(v)
}

/// A copy of `s`, or `None` without the memory.
#[inline]
pub fn string(s: &str) -> Option<String> {
    let mut out = String::new();
    out.try_reserve_exact(s.len()).ok()?;
    out.push_str(s);
    Some(out)
}

/// Room in `v` for `additional` more items (growing it as `Vec::reserve` does, by
/// doubling), or false without the memory.
#[inline]
pub fn room<T>(v: &mut Vec<T>, additional: usize) -> bool {
    v.capacity() - v.len() >= additional || v.try_reserve(additional).is_ok()
}

/// Appends `items` to `v`, or false (leaving `v` as it was) without the memory.
#[inline]
pub fn extend<T: Clone>(v: &mut Vec<T>, items: &[T]) -> bool {
    if !room(v, items.len()) {
        return false;
    }
    v.extend_from_slice(items);
    true
}

/// `n` copies of `value`, or `None` without the memory.
#[inline]
pub fn filled<T: Clone>(n: usize, value: T) -> Option<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).ok()?;
    v.resize(n, value);
    Some(v)
}

/// `flat` (key, value, key, value...) as pairs, or `None` without the memory.
#[inline]
pub fn pairs<T: Copy>(flat: &[T]) -> Option<Vec<(T, T)>> {
    let mut v = Vec::new();
    v.try_reserve_exact(flat.len() / 2).ok()?;
    v.extend(flat.chunks_exact(2).map(|p| (p[0], p[1])));
    Some(v)
}
