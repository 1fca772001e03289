//! Text forms Python itself would print, needed where a pickle holds text: `repr` of a
//! float, decimal digits of an int of any size, and `raw-unicode-escape` as `_pickle.c`
//! writes it for protocol 0's `UNICODE`. Also the little-endian two's complement helpers
//! behind `LONG1`/`LONG4`.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// Appends the decimal digits of `v`.
pub fn push_i64(out: &mut Vec<u8>, v: i64) {
    let mut digits = [0u8; 20];
    let mut n = v.unsigned_abs();
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&digits[i..]);
}

/// Drops redundant sign-extension bytes from a little-endian two's complement int.
pub fn trim_le(le: &[u8]) -> &[u8] {
    let mut n = le.len();
    while n > 1 {
        let top = le[n - 1];
        let next_sign = le[n - 2] & 0x80;
        if (top == 0 && next_sign == 0) || (top == 0xff && next_sign != 0) {
            n -= 1;
        } else {
            break;
        }
    }
    if n == 1 && le[0] == 0 {
        // Zero is written by CPython as LONG1 with no bytes.
        return &le[..0];
    }
    &le[..n]
}

/// `v` as minimal little-endian two's complement bytes (empty for zero).
pub fn i64_to_le_min(v: i64) -> Vec<u8> {
    trim_le(&v.to_le_bytes()).to_vec()
}

/// Reads up to 8 little-endian two's complement bytes as an i64 (sign-extended).
pub fn le_to_i64(le: &[u8]) -> i64 {
    debug_assert!(le.len() <= 8);
    if le.is_empty() {
        return 0;
    }
    let fill = if le[le.len() - 1] & 0x80 != 0 {
        0xff
    } else {
        0
    };
    let mut b = [fill; 8];
    b[..le.len()].copy_from_slice(le);
    i64::from_le_bytes(b)
}

/// Decimal digits of a little-endian two's complement int of any size.
pub fn le_to_decimal(le: &[u8]) -> String {
    if le.is_empty() {
        return "0".into();
    }
    let negative = le[le.len() - 1] & 0x80 != 0;
    // Magnitude as little-endian u32 limbs.
    let mut mag: Vec<u8> = le.to_vec();
    if negative {
        // Two's complement negate.
        let mut carry = 1u16;
        for b in mag.iter_mut() {
            let v = (!*b) as u16 + carry;
            *b = v as u8;
            carry = v >> 8;
        }
    }
    let mut limbs: Vec<u32> = mag
        .chunks(4)
        .map(|c| {
            let mut b = [0u8; 4];
            b[..c.len()].copy_from_slice(c);
            u32::from_le_bytes(b)
        })
        .collect();
    let mut chunks: Vec<u32> = Vec::new(); // base 1e9, least significant first
    while limbs.iter().any(|&l| l != 0) {
        let mut rem: u64 = 0;
        for limb in limbs.iter_mut().rev() {
            let cur = (rem << 32) | *limb as u64;
            *limb = (cur / 1_000_000_000) as u32;
            rem = cur % 1_000_000_000;
        }
        chunks.push(rem as u32);
        while limbs.last() == Some(&0) {
            limbs.pop();
        }
    }
    let mut s = String::new();
    if negative {
        s.push('-');
    }
    match chunks.split_last() {
        None => s.push('0'),
        Some((top, rest)) => {
            s.push_str(&format!("{top}"));
            for c in rest.iter().rev() {
                s.push_str(&format!("{c:09}"));
            }
        }
    }
    s
}

/// Parses optional sign and decimal digits into minimal little-endian two's complement
/// bytes. `None` when the text is not a decimal int.
pub fn decimal_to_le(text: &[u8]) -> Option<Vec<u8>> {
    let (negative, digits) = match text.first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    // Magnitude in u32 limbs, little-endian.
    let mut limbs: Vec<u32> = Vec::new();
    for chunk in digits.chunks(9) {
        let mut mul: u64 = 1;
        let mut add: u64 = 0;
        for &d in chunk {
            mul *= 10;
            add = add * 10 + (d - b'0') as u64;
        }
        let mut carry = add;
        for limb in limbs.iter_mut() {
            let v = *limb as u64 * mul + carry;
            *limb = v as u32;
            carry = v >> 32;
        }
        if carry != 0 {
            limbs.push(carry as u32);
        }
    }
    let mut bytes: Vec<u8> = limbs.iter().flat_map(|l| l.to_le_bytes()).collect();
    bytes.push(0); // room for the sign bit
    if negative {
        let mut carry = 1u16;
        for b in bytes.iter_mut() {
            let v = (!*b) as u16 + carry;
            *b = v as u8;
            carry = v >> 8;
        }
    }
    Some(trim_le(&bytes).to_vec())
}

/// Python's `repr(float)`: shortest round-trip digits, scientific notation when the
/// exponent is below -4 or at least 16, `inf`, `-inf`, `nan`.
pub fn float_repr(v: f64) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    // `{:e}` gives the shortest round-trip digits as d[.ddd]e[-]x.
    // `{:e}` finds how many digits the shortest round-trip form needs; when two such
    // forms are equally close (a tie), it may pick the other one than Python, whose
    // `repr` is the correctly rounded (half-even) value at that many digits, which is
    // what `{:.N$e}` prints.
    let shortest = format!("{:e}", v);
    let digits = shortest
        .split_once('e')
        .map_or(1, |(m, _)| m.bytes().filter(u8::is_ascii_digit).count());
    let rounded = format!("{:.*e}", digits.saturating_sub(1), v);
    // At a power of two the round-trip interval is lopsided, and the correctly rounded
    // digits may fall outside it (2**-24 is ...0625e-08: `...062` would read back as
    // another float); then the shortest form is the only one, as in Python.
    let e = if rounded.parse::<f64>() == Ok(v) {
        rounded
    } else {
        shortest
    };
    let (mantissa, exp) = e.split_once('e').expect("LowerExp always has an exponent");
    let exp: i32 = exp.parse().expect("exponent is an int");
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let mut s = String::from(sign);
    if !(-4..16).contains(&exp) {
        s.push_str(&digits[..1]);
        if digits.len() > 1 {
            s.push('.');
            s.push_str(&digits[1..]);
        }
        s.push('e');
        s.push(if exp < 0 { '-' } else { '+' });
        s.push_str(&format!("{:02}", exp.unsigned_abs()));
    } else if exp < 0 {
        s.push_str("0.");
        for _ in 0..(-exp - 1) {
            s.push('0');
        }
        s.push_str(&digits);
    } else {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            s.push_str(&digits);
            for _ in digits.len()..int_len {
                s.push('0');
            }
            s.push_str(".0");
        } else {
            s.push_str(&digits[..int_len]);
            s.push('.');
            s.push_str(&digits[int_len..]);
        }
    }
    s
}

/// Decodes one code point from generalized UTF-8 (surrogates allowed). Returns the code
/// point and its length, or `None` on malformed input.
pub fn decode_wtf8_char(b: &[u8]) -> Option<(u32, usize)> {
    let c0 = *b.first()? as u32;
    let (len, init) = match c0 {
        0x00..=0x7f => return Some((c0, 1)),
        0xc2..=0xdf => (2, c0 & 0x1f),
        0xe0..=0xef => (3, c0 & 0x0f),
        0xf0..=0xf4 => (4, c0 & 0x07),
        _ => return None,
    };
    if b.len() < len {
        return None;
    }
    let mut cp = init;
    for &c in &b[1..len] {
        if c & 0xc0 != 0x80 {
            return None;
        }
        cp = (cp << 6) | (c as u32 & 0x3f);
    }
    let min = [0, 0, 0x80, 0x800, 0x10000][len];
    if cp < min || cp > 0x10ffff {
        return None;
    }
    Some((cp, len))
}

/// Appends `_pickle.c`'s raw-unicode-escape of a generalized UTF-8 string: code points
/// below 256 as one byte, except `\\`, `\0`, `\r`, `\n` and `\x1a`, which become `\uXXXX`
/// like every code point up to 0xffff; higher ones `\UXXXXXXXX`.
pub fn push_raw_unicode_escape(out: &mut Vec<u8>, utf8: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut i = 0;
    while i < utf8.len() {
        let (cp, len) = decode_wtf8_char(&utf8[i..]).unwrap_or((0xfffd, 1));
        i += len;
        if cp >= 0x10000 {
            out.extend_from_slice(b"\\U");
            for shift in (0..8).rev() {
                out.push(HEX[((cp >> (shift * 4)) & 0xf) as usize]);
            }
        } else if cp >= 256 || matches!(cp, 0x5c | 0 | 0x0d | 0x0a | 0x1a) {
            out.extend_from_slice(b"\\u");
            for shift in (0..4).rev() {
                out.push(HEX[((cp >> (shift * 4)) & 0xf) as usize]);
            }
        } else {
            out.push(cp as u8);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_repr_matches_python() {
        for (v, s) in [
            (1.5, "1.5"),
            (1.0, "1.0"),
            (-0.0, "-0.0"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (123456789012345.6, "123456789012345.6"),
            (1e15, "1000000000000000.0"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            (0.1, "0.1"),
            (123456789.08007812, "123456789.08007812"),
            // 2**-24: the half-even 16-digit form `...062e-08` does not read back.
            (5.960464477539063e-08, "5.960464477539063e-08"),
        ] {
            assert_eq!(float_repr(v), s);
        }
    }

    #[test]
    fn decimal_round_trip() {
        for s in [
            "0",
            "1",
            "-1",
            "255",
            "-128",
            "1180591620717411303424",
            "-1180591620717411303424",
            "18446744073709551615",
        ] {
            let le = decimal_to_le(s.as_bytes()).unwrap();
            assert_eq!(le_to_decimal(&le), s);
        }
        assert_eq!(decimal_to_le(b"2").unwrap(), [2]);
        assert_eq!(decimal_to_le(b"128").unwrap(), [0x80, 0]);
        assert_eq!(decimal_to_le(b"-128").unwrap(), [0x80]);
        assert!(decimal_to_le(b"12a").is_none());
    }
}
