//! The bound on numbers written as text that a safe load may convert: at most
//! [`MAX_DIGITS`] digits and an exponent no larger than that, CPython's own default
//! bound on int/str conversions (`sys.int_max_str_digits`), so no conversion an allowed
//! global makes is quadratic in a number the stream chose. The scanner and the Python
//! safe loader both apply it; not for decoding, which never converts text to numbers.

/// Most decimal digits, and largest decimal exponent, a number argument may carry.
pub const MAX_DIGITS: usize = 4300;

/// Whether number text (`"1e1000000"`, `"3.25"`, `"1_000"`) has at most
/// [`MAX_DIGITS`] digits and every exponent (after `e` or `E`) at most [`MAX_DIGITS`].
pub fn number_text_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let (mut digits, mut i) = (0usize, 0usize);
    while i < b.len() {
        match b[i] {
            b'0'..=b'9' => digits += 1,
            b'e' | b'E' => {
                i += 1;
                if i < b.len() && matches!(b[i], b'+' | b'-') {
                    i += 1;
                }
                let mut exp: u64 = 0;
                while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
                    if b[i] != b'_' {
                        exp = exp
                            .saturating_mul(10)
                            .saturating_add(u64::from(b[i] - b'0'));
                    }
                    i += 1;
                }
                if exp > MAX_DIGITS as u64 {
                    return false;
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    digits <= MAX_DIGITS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_and_exponents_are_bounded() {
        assert!(number_text_ok("3.25e-7"));
        assert!(number_text_ok(&"9".repeat(MAX_DIGITS)));
        assert!(!number_text_ok(&"9".repeat(MAX_DIGITS + 1)));
        assert!(number_text_ok("1e4300"));
        assert!(!number_text_ok("1e4301"));
        assert!(!number_text_ok("1E+1_000_000"));
    }
}
