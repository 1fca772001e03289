//! Flat messages, read without the pickle machine: one tuple whose items are scalars
//! (`None`, bools, ints of up to 64 bits, floats, `str`) or lists of scalars, in an
//! unframed, unmemoized stream of protocol 2 or later, as a host writes many small
//! messages with [`Encoder::begin_unframed`](crate::Encoder::begin_unframed) (the process
//! pool's chunks of plain values). Reading one is a scan with no tree and no stack of
//! values; anything else (a frame, a memo opcode, a nested tuple, a bytes object...) is
//! refused with `None`, and the host reads the stream with [`crate::decode()`] instead.
//! Every length is checked against the bytes left; a list holds at most as many items
//! as the stream has bytes.

use alloc::vec::Vec;

use crate::opcode::*;

/// One scalar of a flat message.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scalar<'a> {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// Generalized UTF-8 (checked; a host decodes it with `surrogatepass`).
    Str(&'a [u8]),
}

/// One item of a flat message's tuple.
#[derive(Debug, Clone, PartialEq)]
pub enum Item<'a> {
    Scalar(Scalar<'a>),
    List(Vec<Scalar<'a>>),
}

/// What [`visit_flat_tuple`] hands its visitor, in stream order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Event<'a> {
    /// The next item of the tuple, a scalar.
    Scalar(Scalar<'a>),
    /// The next item of the tuple, a list (empty until its [`Event::Append`]s).
    List,
    /// A value appended to the last list.
    Append(Scalar<'a>),
}

/// The items of the tuple `data` holds, if it is a flat message (see the module docs);
/// `None` otherwise.
pub fn read_flat_tuple(data: &[u8]) -> Option<Vec<Item<'_>>> {
    let mut items: Vec<Item<'_>> = Vec::new();
    visit_flat_tuple(data, |e| {
        match e {
            Event::Scalar(s) => items.push(Item::Scalar(s)),
            Event::List => items.push(Item::List(Vec::new())),
            Event::Append(s) => match items.last_mut() {
                Some(Item::List(list)) => list.push(s),
                _ => return None,
            },
        }
        Some(())
    })?;
    Some(items)
}

/// Hands each item of the flat message `data` to `visit` as it is read, with no
/// allocation; `Some` if the whole stream is a flat message and `visit` took every
/// event, `None` as soon as either refuses (events already handed stay handed: a
/// visitor building values drops them then).
pub fn visit_flat_tuple<'a>(
    data: &'a [u8],
    mut visit: impl FnMut(Event<'a>) -> Option<()>,
) -> Option<()> {
    let mut r = Reader { data, at: 0 };
    if r.byte()? != PROTO || !(2..=crate::HIGHEST_PROTOCOL).contains(&r.byte()?) {
        return None;
    }
    let mut count = 0usize;
    let mut marked = false;
    // Whether the last item is a list (APPEND and MARK ... APPENDS add to it).
    let mut list_last = false;
    loop {
        let op = r.byte()?;
        match op {
            MARK if count == 0 && !marked => marked = true,
            EMPTY_LIST => {
                visit(Event::List)?;
                count += 1;
                list_last = true;
            }
            MARK if list_last => loop {
                let op = r.byte()?;
                if op == APPENDS {
                    break;
                }
                visit(Event::Append(r.scalar(op)?))?;
            },
            TUPLE1 | TUPLE2 | TUPLE3 if !marked => {
                return (usize::from(op - TUPLE1) + 1 == count && r.at_stop()).then_some(());
            }
            TUPLE if marked => return r.at_stop().then_some(()),
            EMPTY_TUPLE if count == 0 && !marked => return r.at_stop().then_some(()),
            _ => {
                let s = r.scalar(op)?;
                // A scalar the next opcode appends to the list before it.
                if list_last && r.data.get(r.at) == Some(&APPEND) {
                    r.at += 1;
                    visit(Event::Append(s))?;
                } else {
                    visit(Event::Scalar(s))?;
                    count += 1;
                    list_last = false;
                }
            }
        }
    }
}

/// `raw` if it is generalized UTF-8 (lone surrogates allowed), as the machine reads.
fn text(raw: &[u8]) -> Option<&[u8]> {
    (raw.is_ascii() || core::str::from_utf8(raw).is_ok() || super::text::is_surrogatepass_utf8(raw))
        .then_some(raw)
}

struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let got = self.data.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(got)
    }

    fn byte(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    /// Whether `STOP` is all that is left.
    fn at_stop(&self) -> bool {
        self.data.get(self.at..) == Some(&[STOP][..])
    }

    /// The scalar opcode `op`, its argument read from here on.
    fn scalar(&mut self, op: u8) -> Option<Scalar<'a>> {
        Some(match op {
            NONE => Scalar::None,
            NEWTRUE => Scalar::Bool(true),
            NEWFALSE => Scalar::Bool(false),
            BININT1 => Scalar::Int(i64::from(self.byte()?)),
            BININT2 => Scalar::Int(i64::from(u16::from_le_bytes(self.array()?))),
            BININT => Scalar::Int(i64::from(i32::from_le_bytes(self.array()?))),
            LONG1 => {
                let n = usize::from(self.byte()?);
                if n > 8 {
                    return None;
                }
                let le = self.take(n)?;
                let mut b = [0u8; 8];
                b[..n].copy_from_slice(le);
                // Sign-extended from its top byte (zero bytes: 0).
                let shift = 64 - 8 * n as u32;
                Scalar::Int(if n == 0 {
                    0
                } else {
                    (i64::from_le_bytes(b) << shift) >> shift
                })
            }
            BINFLOAT => Scalar::Float(f64::from_be_bytes(self.array()?)),
            SHORT_BINUNICODE => {
                let n = usize::from(self.byte()?);
                Scalar::Str(text(self.take(n)?)?)
            }
            BINUNICODE => {
                let n = u32::from_le_bytes(self.array()?) as usize;
                Scalar::Str(text(self.take(n)?)?)
            }
            _ => return None,
        })
    }
}
