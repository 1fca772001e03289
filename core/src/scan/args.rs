//! The argument rules `safe_loads` applies to calls of safe-listed globals, as far as
//! the scan sees literal arguments: a call that breaks one is `unknown` even though its
//! callee is safe. Not for the callees themselves (see [`super::classify()`]).

use super::abs::Abs;
use crate::numbers::{number_text_ok, MAX_DIGITS};

/// Why a call of the safe-listed `module.name` with these (literal) arguments is not
/// harmless, by the argument rules `safe_loads` applies: a range a constructor would
/// expand, an int size, a codec other than Latin-1/UTF-8/ASCII, a keyword argument to
/// a text conversion, a number of more than 4,300 digits or exponent, `_reconstructor`
/// state that its base would read as a size. Arguments the walk does not know (a
/// tuple longer than it keeps) are left to the other judgments.
pub(super) fn hostile_args(
    module: &str,
    name: &str,
    args: Option<&Abs>,
    kwargs: Option<&Abs>,
) -> Option<&'static str> {
    let items: &[Abs] = match args {
        Some(Abs::Tuple(items)) => items,
        _ => &[],
    };
    if items.iter().any(|a| matches!(a, Abs::Range)) {
        return Some("a range argument, which the constructor expands");
    }
    let text = matches!(
        (module, name),
        ("builtins", "bytearray" | "bytes" | "str") | ("_codecs" | "codecs", "encode")
    );
    let number = matches!(
        (module, name),
        ("builtins", "int" | "float" | "complex")
            | ("decimal", "Decimal")
            | ("fractions", "Fraction")
    );
    if text {
        if kwargs.is_some() {
            return Some("keyword arguments to a text conversion");
        }
        if items.iter().any(|a| matches!(a, Abs::Int(_))) {
            return Some("an int size argument, which allocates that many bytes");
        }
        if let Some(enc) = items.get(1) {
            let ok = matches!(enc, Abs::Str(e) if {
                let e = e.to_ascii_lowercase().replace(['-', '_'], "");
                matches!(e.as_str(), "latin1" | "iso88591" | "utf8" | "ascii")
            });
            if !ok {
                return Some("an encoding other than Latin-1, UTF-8 or ASCII");
            }
        }
    }
    if number {
        for a in items {
            match a {
                Abs::Str(s) if !number_text_ok(s) => {
                    return Some("a number of more than 4,300 digits or exponent")
                }
                Abs::Str(s) if name == "Fraction" && s.contains(['e', 'E']) => {
                    return Some("a Fraction with an exponent")
                }
                Abs::Tuple(t) if t.len() == 3 => {
                    // `Decimal((sign, digits, exponent))`.
                    if let Abs::Int(e) = &t[2] {
                        if !e.is_some_and(|e| e.unsigned_abs() <= MAX_DIGITS as u64) {
                            return Some("a Decimal exponent beyond 4,300");
                        }
                    }
                }
                Abs::Int(None) => return Some("an int of more than 64 bits to a number type"),
                _ => {}
            }
        }
    }
    if (module, name) == ("copyreg", "_reconstructor") && items.len() == 3 {
        if let (
            Abs::Global {
                module: m, name: n, ..
            },
            Abs::Int(_),
        ) = (&items[1], &items[2])
        {
            if &**m == "builtins" && matches!(&**n, "bytearray" | "bytes" | "str") {
                return Some("an int size through _reconstructor");
            }
        }
    }
    None
}
