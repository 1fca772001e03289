//! The machine's stack, marks and memo: pushing a charged value, collecting the items
//! above a mark into one, popping within the fence of the topmost mark (as `_pickle.c`
//! does), and memo gets and puts within the memo limit. Not for reading arguments.

use super::{Builder, Machine, ID_COST, NODE_COST, R};
use crate::error::DecodeErrorKind as K;

impl<B: Builder> Machine<'_, '_, B> {
    /// Charges one value, makes it with `make` and pushes its handle.
    #[inline(always)]
    pub(super) fn push(&mut self, make: impl FnOnce(&mut B) -> B::Handle) -> R<()> {
        self.charge(NODE_COST)?;
        let h = make(self.b);
        self.stack_push(h)
    }

    /// Pushes a handle on the stack, growing it fallibly (`OUT_OF_MEMORY` when the
    /// allocator refuses).
    #[inline(always)]
    pub(super) fn stack_push(&mut self, h: B::Handle) -> R<()> {
        if !crate::try_alloc::room(&mut self.stack, 1) {
            return Err(self.fail(K::OutOfMemory));
        }
        self.stack.push(h);
        Ok(())
    }

    /// Pops the topmost mark; the items above it become one value made by `make`.
    #[inline]
    pub(super) fn marked(&mut self, make: impl FnOnce(&mut B, &[B::Handle]) -> B::Handle) -> R<()> {
        let k = self.pop_mark()?;
        self.collect(k, make)
    }

    /// The items above stack position `k` become one value made by `make`, replacing
    /// them on the stack.
    #[inline]
    pub(super) fn collect(
        &mut self,
        k: usize,
        make: impl FnOnce(&mut B, &[B::Handle]) -> B::Handle,
    ) -> R<()> {
        self.charge((self.stack.len() - k) * ID_COST)?;
        self.charge(NODE_COST)?;
        let h = make(self.b, &self.stack[k..]);
        self.stack.truncate(k);
        self.stack_push(h)
    }

    #[inline]
    pub(super) fn pop(&mut self) -> R<B::Handle> {
        if self.stack.len() > self.fence {
            if let Some(id) = self.stack.pop() {
                return Ok(id);
            }
        }
        Err(self.fail(K::StackUnderflow))
    }

    #[inline]
    pub(super) fn top(&self) -> R<B::Handle> {
        if self.stack.len() > self.fence {
            if let Some(&id) = self.stack.last() {
                return Ok(id);
            }
        }
        Err(self.fail(K::StackUnderflow))
    }

    /// Pops the topmost mark and returns the stack length it recorded.
    #[inline]
    pub(super) fn pop_mark(&mut self) -> R<usize> {
        let Some(k) = self.marks.pop() else {
            return Err(self.fail(K::MissingMark));
        };
        self.fence = self.marks.last().copied().unwrap_or(0);
        Ok(k)
    }

    // ---- memo ----

    #[inline]
    pub(super) fn get(&mut self, key: u64) -> R<()> {
        match self.memo.get(key) {
            Some(id) => self.stack_push(id),
            None => Err(self.fail(K::MemoKeyMissing(key))),
        }
    }

    #[inline]
    pub(super) fn put(&mut self, key: u64) -> R<()> {
        let id = self.top()?;
        let before = self.memo.len();
        let Some(grown) = self.memo.put(key, id) else {
            return Err(self.fail(K::OutOfMemory));
        };
        if self.memo.len() > before && self.memo.len() > self.opts.limits.max_memo {
            return Err(self.fail(K::MemoLimit(self.opts.limits.max_memo)));
        }
        self.charge(grown)
    }
}
