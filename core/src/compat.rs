//! Python 2/3 name mapping for globals (`fix_imports`): what `pickle` writes below
//! protocol 3 and what it reads back. The tables are generated into `compat_table.rs`.

use crate::compat_table::{
    Name, IMPORT_MAPPING, NAME_MAPPING, REVERSE_IMPORT_MAPPING, REVERSE_NAME_MAPPING,
};

fn lookup_pair<'t>(
    table: &'t [(Name, Name)],
    module: &str,
    name: &str,
) -> Option<(&'t str, &'t str)> {
    table
        .binary_search_by(|((m, n), _)| (*m, *n).cmp(&(module, name)))
        .ok()
        .map(|i| table[i].1)
}

fn lookup_module(table: &[(&'static str, &'static str)], module: &str) -> Option<&'static str> {
    table
        .binary_search_by(|(m, _)| (*m).cmp(module))
        .ok()
        .map(|i| table[i].1)
}

/// The Python 2 spelling of a Python 3 global, as written below protocol 3.
pub fn to_python2<'a>(module: &'a str, name: &'a str) -> (&'a str, &'a str) {
    if let Some(pair) = lookup_pair(REVERSE_NAME_MAPPING, module, name) {
        return pair;
    }
    match lookup_module(REVERSE_IMPORT_MAPPING, module) {
        Some(m) => (m, name),
        None => (module, name),
    }
}

/// The Python 3 spelling of a global read from a protocol 0-2 stream.
pub fn to_python3<'a>(module: &'a str, name: &'a str) -> (&'a str, &'a str) {
    if let Some(pair) = lookup_pair(NAME_MAPPING, module, name) {
        return pair;
    }
    match lookup_module(IMPORT_MAPPING, module) {
        Some(m) => (m, name),
        None => (module, name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_both_ways() {
        assert_eq!(to_python2("builtins", "set"), ("__builtin__", "set"));
        assert_eq!(to_python2("builtins", "range"), ("__builtin__", "xrange"));
        assert_eq!(
            to_python2("copyreg", "_reconstructor"),
            ("copy_reg", "_reconstructor")
        );
        assert_eq!(to_python2("mymod", "X"), ("mymod", "X"));
        assert_eq!(to_python3("__builtin__", "xrange"), ("builtins", "range"));
        assert_eq!(
            to_python3("copy_reg", "_reconstructor"),
            ("copyreg", "_reconstructor")
        );
    }

    #[test]
    fn tables_are_sorted_for_binary_search() {
        assert!(REVERSE_NAME_MAPPING.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(NAME_MAPPING.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(REVERSE_IMPORT_MAPPING.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(IMPORT_MAPPING.windows(2).all(|w| w[0].0 < w[1].0));
    }
}
