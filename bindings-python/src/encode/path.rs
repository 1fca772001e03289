//! Where the walker is inside the dumped object, kept as a stack of cheap segments and
//! rendered only when an error needs it: `obj['jobs'][2].callback.__closure__[0]`.

use pyo3::prelude::*;

/// One step from a container to what it holds.
pub enum Seg<'py> {
    Index(usize),
    Key(Bound<'py, PyAny>),
    Attr(&'static str),
    AttrName(String),
    Item(&'static str),
    /// The state of a reduced object: string keys below it render as attributes.
    State,
}

/// The segments from the dumped object down to the object being saved.
pub struct Path<'py> {
    segs: Vec<Seg<'py>>,
}

/// Stacks this deep or shallower are kept for the thread's next dump.
const KEEP_MAX: usize = 256;

thread_local! {
    /// The emptied stack of the last dump on this thread: a dump of anything with a
    /// container in it otherwise allocated one on every call.
    static SPARE: std::cell::Cell<Vec<Seg<'static>>> = const { std::cell::Cell::new(Vec::new()) };
}

impl Default for Path<'_> {
    fn default() -> Self {
        let spare = SPARE.with(std::cell::Cell::take);
        debug_assert!(spare.is_empty());
        let mut spare = std::mem::ManuallyDrop::new(spare);
        // SAFETY: an empty vector of the same type but for a lifetime: no element to
        // outlive anything, same layout, same allocation.
        let segs = unsafe { Vec::from_raw_parts(spare.as_mut_ptr().cast(), 0, spare.capacity()) };
        Path { segs }
    }
}

impl Drop for Path<'_> {
    fn drop(&mut self) {
        self.segs.clear();
        if self.segs.capacity() == 0 || self.segs.capacity() > KEEP_MAX {
            return;
        }
        let mut segs = std::mem::ManuallyDrop::new(std::mem::take(&mut self.segs));
        // SAFETY: empty, as in `default`.
        let spare = unsafe { Vec::from_raw_parts(segs.as_mut_ptr().cast(), 0, segs.capacity()) };
        let _ = SPARE.try_with(|c| c.set(spare));
    }
}

impl<'py> Path<'py> {
    #[inline]
    pub fn push(&mut self, s: Seg<'py>) {
        self.segs.push(s);
    }

    #[inline]
    pub fn pop(&mut self) {
        self.segs.pop();
    }

    #[inline]
    pub fn set_top_index(&mut self, i: usize) {
        if let Some(Seg::Index(top)) = self.segs.last_mut() {
            *top = i;
        }
    }

    /// `obj` followed by every segment, with dict keys shown by `repr`.
    pub fn render(&self) -> String {
        let mut s = String::from("obj");
        let mut in_state = false;
        for seg in &self.segs {
            let after_state = std::mem::replace(&mut in_state, false);
            match seg {
                Seg::State => in_state = true,
                Seg::Index(i) => s.push_str(&format!("[{i}]")),
                Seg::Key(k) if after_state && k.is_instance_of::<pyo3::types::PyString>() => {
                    s.push('.');
                    s.push_str(&k.to_string());
                }
                Seg::Key(k) => {
                    let r = k
                        .repr()
                        .map(|r| r.to_string())
                        .unwrap_or_else(|_| "<key>".into());
                    s.push_str(&format!("[{r}]"));
                }
                Seg::Attr(a) => {
                    s.push('.');
                    s.push_str(a);
                }
                Seg::AttrName(a) => {
                    s.push('.');
                    s.push_str(a);
                }
                Seg::Item(what) => {
                    s.push_str(&format!("<{what}>"));
                }
            }
        }
        s
    }
}
