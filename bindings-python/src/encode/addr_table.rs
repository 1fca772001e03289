//! The memo's hash table: object address to memo index, in one flat array of 12-byte
//! slots with open addressing.
//!
//! A lookup is a short chain: the slot the address picks, one load, one compare. The
//! general-purpose table this replaces (hashbrown's, SIMD groups of control bytes) took a
//! hash, a control-group load, a tag match and a bit scan before it could load the key,
//! and that dependent chain was the costliest part of dumping small records, where
//! every key string is a memo hit.
//!
//! The first slot tried is the address shifted past the 16-byte alignment, so objects
//! allocated one after the other (as a walk mostly meets them) fill neighbouring slots
//! and a big dump walks the table almost sequentially. Collisions leave the
//! neighbourhood with CPython's perturbed probe (`i = 5i + 1 + perturb`, the upper
//! address bits shifted in), so addresses in a regular stride cannot pile up into long
//! runs. The table is at most three quarters full. It stores no references itself; the
//! memo owns them (see `memo.rs`). Growth is fallible: a table that cannot get memory
//! says so, it never aborts the process.

use pyo3::ffi;

/// One slot: an address (null when empty) and its memo index, packed to 12 bytes.
#[derive(Clone, Copy)]
#[repr(C, packed(4))]
struct Slot {
    obj: *mut ffi::PyObject,
    idx: u32,
}

/// The one slot of every table with no allocation: empty, so a lookup in an empty
/// table needs no test of its own.
struct EmptySlot(Slot);
// SAFETY: never written (a table with capacity 0 has no room, so it grows first).
unsafe impl Sync for EmptySlot {}
static EMPTY: EmptySlot = EmptySlot(Slot {
    obj: std::ptr::null_mut(),
    idx: 0,
});

const PERTURB_SHIFT: u32 = 5;

/// Slots probed side by side before a jump.
const WINDOW: usize = 8;

/// Capacity of a table's first allocation.
const MIN_CAPACITY: usize = 16;

/// Where a lookup ended: on the object's slot, or on the empty slot it would go in.
pub enum Probe {
    Found(usize),
    Vacant(usize),
}

/// Address to memo index. See the module docs.
pub struct AddrTable {
    slots: *mut Slot,
    /// Capacity (a power of two, or 0 for [`EMPTY`]) minus one.
    mask: usize,
    len: usize,
}

// SAFETY: the table owns its allocation; the addresses in it are plain keys here.
unsafe impl Send for AddrTable {}
unsafe impl Sync for AddrTable {}

impl Default for AddrTable {
    fn default() -> Self {
        AddrTable {
            slots: (&raw const EMPTY.0).cast_mut(),
            mask: 0,
            len: 0,
        }
    }
}

impl Drop for AddrTable {
    fn drop(&mut self) {
        if let Some(layout) = self.layout() {
            // SAFETY: allocated in `try_with_capacity` with this layout.
            unsafe { std::alloc::dealloc(self.slots.cast(), layout) };
        }
    }
}

#[inline(always)]
fn start(p: *mut ffi::PyObject) -> usize {
    p as usize >> 4
}

impl AddrTable {
    /// A table of `cap` empty slots (a power of two), or `None` without the memory.
    fn try_with_capacity(cap: usize) -> Option<AddrTable> {
        debug_assert!(cap.is_power_of_two());
        let layout = std::alloc::Layout::array::<Slot>(cap).ok()?;
        // SAFETY: a non-zero size; zeroed slots are empty (null addresses).
        let slots = unsafe { std::alloc::alloc_zeroed(layout) }.cast::<Slot>();
        (!slots.is_null()).then_some(AddrTable {
            slots,
            mask: cap - 1,
            len: 0,
        })
    }

    fn layout(&self) -> Option<std::alloc::Layout> {
        let cap = self.capacity();
        (cap > 0).then(|| std::alloc::Layout::array::<Slot>(cap).expect("allocated with it"))
    }

    /// Number of slots (0 before the first insert).
    #[inline(always)]
    pub fn capacity(&self) -> usize {
        if self.slots.cast_const() == (&raw const EMPTY.0) {
            0
        } else {
            self.mask + 1
        }
    }

    #[inline(always)]
    pub fn len(&self) -> usize {
        self.len
    }

    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether one more entry fits without growing (the table stays at most three
    /// quarters full, so a probe always ends).
    #[inline(always)]
    pub fn has_room(&self) -> bool {
        // A capacity-0 table has mask 0, and no room.
        4 * self.len < 3 * (self.mask + 1) && self.mask != 0
    }

    #[inline(always)]
    fn slot(&self, i: usize) -> Slot {
        // SAFETY: `i` is masked to the capacity (or 0 for EMPTY's one slot).
        unsafe { *self.slots.add(i) }
    }

    /// The slot holding `p`, or the empty slot where it would go. The first two slots
    /// of the window are tried in line: in a small table a few hot keys (a record's
    /// field names) often sit one slot past their own, and a call for each of them on
    /// every record cost up to a fifth of a dump, depending on where the process had
    /// allocated them.
    #[inline(always)]
    pub fn probe(&self, p: *mut ffi::PyObject) -> Probe {
        let i = start(p) & self.mask;
        let s = self.slot(i);
        if s.obj == p {
            return Probe::Found(i);
        }
        if s.obj.is_null() {
            return Probe::Vacant(i);
        }
        let j = (i + 1) & self.mask;
        let s = self.slot(j);
        if s.obj == p {
            return Probe::Found(j);
        }
        if s.obj.is_null() {
            return Probe::Vacant(j);
        }
        self.probe_on(p, i)
    }

    /// The rest of [`AddrTable::probe`] after its first two slots: the next slots of
    /// its window (the cache lines at hand), then a perturbed jump to another window.
    #[inline(never)]
    fn probe_on(&self, p: *mut ffi::PyObject, mut i: usize) -> Probe {
        let mut perturb = start(p);
        let mut base = i;
        let mut k = 2;
        loop {
            if k == WINDOW {
                perturb >>= PERTURB_SHIFT;
                base = (base.wrapping_mul(5).wrapping_add(perturb).wrapping_add(1)) & self.mask;
                k = 0;
            }
            i = (base + k) & self.mask;
            k += 1;
            let s = self.slot(i);
            if s.obj == p {
                return Probe::Found(i);
            }
            if s.obj.is_null() {
                return Probe::Vacant(i);
            }
        }
    }

    /// The memo index of `p`, if it is in the table.
    #[inline(always)]
    pub fn get(&self, p: *mut ffi::PyObject) -> Option<u32> {
        match self.probe(p) {
            Probe::Found(i) => Some(self.index_at(i)),
            Probe::Vacant(_) => None,
        }
    }

    /// The memo index in slot `i` (a slot [`AddrTable::probe`] found).
    #[inline(always)]
    pub fn index_at(&self, i: usize) -> u32 {
        self.slot(i).idx
    }

    /// Re-indexes the entry in slot `i` (a slot [`AddrTable::probe`] found).
    #[inline(always)]
    pub fn set_index_at(&mut self, i: usize, idx: u32) {
        debug_assert!(i <= self.mask && self.capacity() > 0);
        // SAFETY: in bounds of the table's own allocation.
        unsafe { (*self.slots.add(i)).idx = idx };
    }

    /// Puts `p` in the vacant slot `i` that [`AddrTable::probe`] gave, when
    /// [`AddrTable::has_room`] held before it.
    #[inline(always)]
    pub fn fill(&mut self, i: usize, p: *mut ffi::PyObject, idx: u32) {
        debug_assert!(self.has_room() && self.slot(i).obj.is_null());
        // SAFETY: as in `set_index_at`.
        unsafe { *self.slots.add(i) = Slot { obj: p, idx } };
        self.len += 1;
    }

    /// Doubles the capacity (the first allocation is [`MIN_CAPACITY`] slots); false,
    /// leaving the table as it was, when the memory is not there.
    pub fn try_grow(&mut self) -> bool {
        let cap = self.capacity();
        let Some(new_cap) = (if cap == 0 {
            Some(MIN_CAPACITY)
        } else {
            cap.checked_mul(2)
        }) else {
            return false;
        };
        let Some(mut new) = AddrTable::try_with_capacity(new_cap) else {
            return false;
        };
        self.for_each(|p, idx| match new.probe(p) {
            Probe::Vacant(i) => {
                // SAFETY: in bounds; the new table has room for every old entry.
                unsafe { *new.slots.add(i) = Slot { obj: p, idx } };
                new.len += 1;
            }
            Probe::Found(_) => unreachable!("an address is in the table once"),
        });
        *self = new;
        true
    }

    /// The slots, for a walk over all of them (none when the table holds no entry).
    fn slots(&self) -> &[Slot] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: a table holding entries is allocated with `mask + 1` slots.
        unsafe { std::slice::from_raw_parts(self.slots, self.mask + 1) }
    }

    /// [`AddrTable::slots`], to write.
    fn slots_mut(&mut self) -> &mut [Slot] {
        if self.len == 0 {
            return &mut [];
        }
        // SAFETY: as in `slots`, and only the table refers to them.
        unsafe { std::slice::from_raw_parts_mut(self.slots, self.mask + 1) }
    }

    /// Calls `f` with each entry, in slot order.
    pub fn for_each(&self, mut f: impl FnMut(*mut ffi::PyObject, u32)) {
        // The walk ends at the last entry: objects allocated one after the other sit in
        // neighbouring slots, so the entries of a big dump often fill one stretch.
        let mut left = self.len;
        for s in self.slots() {
            let p = s.obj;
            if !p.is_null() {
                f(p, s.idx);
                left -= 1;
                if left == 0 {
                    break;
                }
            }
        }
    }

    /// Empties the table, keeping its capacity, and calls `f` with each address it held.
    pub fn drain(&mut self, mut f: impl FnMut(*mut ffi::PyObject)) {
        let mut left = self.len;
        for s in self.slots_mut() {
            let p = s.obj;
            if !p.is_null() {
                s.obj = std::ptr::null_mut();
                f(p);
                left -= 1;
                if left == 0 {
                    break;
                }
            }
        }
        self.len = 0;
    }
}
