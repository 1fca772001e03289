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
#[derive(Default)]
pub struct Path<'py> {
    segs: Vec<Seg<'py>>,
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
