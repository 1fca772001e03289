//! `decode_with` and a host's own `Builder`: a small builder written here, outside the
//! crate (an arena of kinds, strs and items, with `u32` handles), receives what the
//! stream holds, sees shared references and cycles as repeated handles, works on
//! 100,000-deep nesting, and gets exactly the errors (kind and offset) `decode` gives
//! on every truncation of the test vectors. A builder that keeps no items gets pure
//! reductions as objects.

use brinery_core::decode::Contents;
use brinery_core::{decode, decode_with, Builder, DecodeOptions, ObjectKind, ValueKind};

/// Records every value as a kind, its text (strs, globals) or payload (bytes), items
/// (containers and objects) and the ints it saw.
#[derive(Default)]
struct Counting {
    kinds: Vec<ValueKind>,
    strs: Vec<String>,
    bytes: Vec<Vec<u8>>,
    items: Vec<Vec<u32>>,
    pairs: Vec<Vec<(u32, u32)>>,
    ints: Vec<i64>,
    /// When false, `contents` answers `Opaque` for containers and bytes.
    keep_items: bool,
}

impl Counting {
    fn new(keep_items: bool) -> Self {
        Counting {
            keep_items,
            ..Default::default()
        }
    }

    fn add(&mut self, kind: ValueKind) -> u32 {
        self.kinds.push(kind);
        self.strs.push(String::new());
        self.bytes.push(Vec::new());
        self.items.push(Vec::new());
        self.pairs.push(Vec::new());
        (self.kinds.len() - 1) as u32
    }

    fn with_items(&mut self, kind: ValueKind, items: &[u32]) -> u32 {
        let h = self.add(kind);
        self.items[h as usize] = items.to_vec();
        h
    }

    fn count(&self, kind: ValueKind) -> usize {
        self.kinds.iter().filter(|&&k| k == kind).count()
    }
}

fn pairs_of(flat: &[u32]) -> Vec<(u32, u32)> {
    flat.chunks_exact(2).map(|p| (p[0], p[1])).collect()
}

impl Builder for Counting {
    type Handle = u32;

    fn none(&mut self) -> u32 {
        self.add(ValueKind::None)
    }
    fn bool(&mut self, _: bool) -> u32 {
        self.add(ValueKind::Bool)
    }
    fn int(&mut self, v: i64) -> u32 {
        self.ints.push(v);
        self.add(ValueKind::Int)
    }
    fn big_int(&mut self, le: &[u8]) -> u32 {
        assert!(le.len() > 8, "big ints are beyond 64 bits");
        self.add(ValueKind::BigInt)
    }
    fn float(&mut self, _: f64) -> u32 {
        self.add(ValueKind::Float)
    }
    fn str(&mut self, s: &str) -> u32 {
        let h = self.add(ValueKind::Str);
        self.strs[h as usize] = s.into();
        h
    }
    fn surrogate_str(&mut self, _: &[u8]) -> u32 {
        self.add(ValueKind::SurrogateStr)
    }
    fn bytes(&mut self, b: &[u8]) -> u32 {
        let h = self.add(ValueKind::Bytes);
        self.bytes[h as usize] = b.to_vec();
        h
    }
    fn byte_array(&mut self, _: &[u8]) -> u32 {
        self.add(ValueKind::ByteArray)
    }
    fn list(&mut self, items: &[u32]) -> u32 {
        self.with_items(ValueKind::List, items)
    }
    fn tuple(&mut self, items: &[u32]) -> u32 {
        self.with_items(ValueKind::Tuple, items)
    }
    fn dict(&mut self, pairs: &[u32]) -> u32 {
        let h = self.add(ValueKind::Dict);
        self.pairs[h as usize] = pairs_of(pairs);
        h
    }
    fn set(&mut self, items: &[u32]) -> u32 {
        self.with_items(ValueKind::Set, items)
    }
    fn frozen_set(&mut self, items: &[u32]) -> u32 {
        self.with_items(ValueKind::FrozenSet, items)
    }
    fn extend(&mut self, target: u32, items: &[u32]) {
        let kind = self.kinds[target as usize];
        assert!(matches!(
            kind,
            ValueKind::List | ValueKind::Set | ValueKind::Object
        ));
        self.items[target as usize].extend_from_slice(items);
    }
    fn set_items(&mut self, target: u32, pairs: &[u32]) {
        let kind = self.kinds[target as usize];
        assert!(matches!(kind, ValueKind::Dict | ValueKind::Object));
        self.pairs[target as usize].extend(pairs_of(pairs));
    }
    fn global(&mut self, module: &str, name: &str) -> u32 {
        let h = self.add(ValueKind::Global);
        self.strs[h as usize] = format!("{module}\n{name}");
        h
    }
    fn object(&mut self, _: ObjectKind, callable: u32, args: u32, kwargs: Option<u32>) -> u32 {
        assert!(self.kinds[callable as usize].may_be_callable());
        assert_eq!(self.kinds[args as usize], ValueKind::Tuple);
        if let Some(kw) = kwargs {
            assert_eq!(self.kinds[kw as usize], ValueKind::Dict);
        }
        self.add(ValueKind::Object)
    }
    fn build(&mut self, target: u32, _: u32) {
        self.kinds[target as usize] = ValueKind::Object;
    }
    fn persistent_id(&mut self, _: u32) -> u32 {
        self.add(ValueKind::PersistentId)
    }
    fn extension(&mut self, code: i32) -> u32 {
        assert!(code > 0);
        self.add(ValueKind::Extension)
    }
    fn buffer(&mut self, _: usize) -> u32 {
        self.add(ValueKind::Buffer)
    }
    fn readonly(&mut self, buffer: u32) {
        assert_eq!(self.kinds[buffer as usize], ValueKind::Buffer);
    }
    fn kind(&self, h: u32) -> ValueKind {
        self.kinds[h as usize]
    }
    fn contents(&self, h: u32) -> Contents<'_, u32> {
        let h = h as usize;
        match self.kinds[h] {
            ValueKind::Str => Contents::Str(&self.strs[h]),
            ValueKind::Bytes if self.keep_items => Contents::Bytes(&self.bytes[h]),
            ValueKind::Global => {
                let (module, name) = self.strs[h].split_once('\n').unwrap();
                Contents::Global { module, name }
            }
            ValueKind::List | ValueKind::Tuple | ValueKind::Set | ValueKind::FrozenSet
                if self.keep_items =>
            {
                Contents::Items(&self.items[h])
            }
            ValueKind::Dict if self.keep_items => Contents::Entries(&self.pairs[h]),
            _ => Contents::Opaque,
        }
    }
}

fn run(data: &[u8], keep_items: bool) -> (Counting, u32) {
    let mut b = Counting::new(keep_items);
    let (root, used) = decode_with(data, &DecodeOptions::new(), &mut b).unwrap();
    assert_eq!(used, data.len());
    (b, root)
}

#[test]
fn receives_every_value_of_the_stream() {
    // pickle.dumps([1, 300, 70000, 2**40, 2**70, 'a', None, True, 1.5, b'x'], protocol=4)
    let data = b"\x80\x04\x955\x00\x00\x00\x00\x00\x00\x00]\x94(K\x01M,\x01Jp\x11\x01\x00\
\x8a\x06\x00\x00\x00\x00\x00\x01\x8a\t\x00\x00\x00\x00\x00\x00\x00\x00@\x8c\x01a\x94N\x88G\
?\xf8\x00\x00\x00\x00\x00\x00C\x01x\x94e.";
    let (b, root) = run(data, true);
    assert_eq!(b.kind(root), ValueKind::List);
    assert_eq!(b.items[root as usize].len(), 10);
    assert_eq!(b.ints, [1, 300, 70000, 1 << 40]);
    assert_eq!(b.count(ValueKind::BigInt), 1);
    assert_eq!(b.contents(b.items[root as usize][5]), Contents::Str("a"));
    for kind in [
        ValueKind::None,
        ValueKind::Bool,
        ValueKind::Float,
        ValueKind::Bytes,
    ] {
        assert_eq!(b.count(kind), 1, "{kind:?}");
    }
}

#[test]
fn shared_references_and_cycles_are_repeated_handles() {
    // l = []; l.append(l); pickle.dumps([l, l], protocol=2)
    let (b, root) = run(b"\x80\x02]q\x00(]q\x01h\x01ah\x01e.", true);
    let outer = &b.items[root as usize];
    assert_eq!(outer.len(), 2);
    assert_eq!(outer[0], outer[1], "one list referenced twice");
    assert_eq!(
        b.items[outer[0] as usize],
        [outer[0]],
        "the list contains itself"
    );
    assert_eq!(b.count(ValueKind::List), 2);
}

#[test]
fn pure_reductions_are_lowered_only_when_contents_are_kept() {
    // pickle.dumps({1, 2}, protocol=2): __builtin__.set([1, 2]) through REDUCE.
    let data = b"\x80\x02c__builtin__\nset\nq\x00]q\x01(K\x01K\x02e\x85q\x02Rq\x03.";
    let (b, root) = run(data, true);
    assert_eq!(b.kind(root), ValueKind::Set);
    assert_eq!(b.items[root as usize].len(), 2);
    let (b, root) = run(data, false);
    assert_eq!(b.kind(root), ValueKind::Object);
    assert_eq!(decode(data, &DecodeOptions::new()).unwrap().len(), 6);
}

#[test]
fn deep_nesting_reaches_the_builder_flat() {
    let depth = 100_000;
    let mut data = vec![0x80, 2];
    data.extend(vec![b']'; depth]);
    data.extend(vec![b'a'; depth - 1]);
    data.push(b'.');
    let (b, root) = run(&data, true);
    assert_eq!(b.count(ValueKind::List), depth);
    assert_eq!(root, 0, "the outermost list is the first one made");
}

#[test]
fn errors_are_those_of_decode_on_every_truncation() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors");
    let mut streams = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "pickle") {
            continue;
        }
        let data = std::fs::read(&path).unwrap();
        streams += 1;
        for opts in [DecodeOptions::new(), tight()] {
            // Every cut of the small streams; the big ones whole.
            let first = if data.len() > 4096 { data.len() } else { 0 };
            for end in first..=data.len() {
                let part = &data[..end];
                let ours = decode_with(part, &opts, &mut Counting::new(true)).map(|(_, n)| n);
                let tree = brinery_core::decode::decode_prefix(part, &opts).map(|(_, n)| n);
                assert_eq!(ours, tree, "{} cut at {end}", path.display());
            }
        }
    }
    assert!(streams > 10, "found the vectors");
}

/// Limits the vectors run into, so the limit errors are compared too.
fn tight() -> DecodeOptions {
    let mut opts = DecodeOptions::new();
    opts.limits.max_alloc = 600;
    opts.limits.max_memo = 3;
    opts.limits.max_depth = 2;
    opts
}
