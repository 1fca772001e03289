//! JS scalars as the core encoder takes them: a `Date`'s milliseconds as the state of
//! a `datetime.datetime`, a BigInt's sign and magnitude as two's complement bytes. Not
//! for the tape or the walk (see [`super`]); `decode`'s tape takes [`negate`] too.

/// The 10-byte `datetime` state of a UTC instant in milliseconds since the epoch.
pub fn datetime_state(ms: f64) -> Option<[u8; 10]> {
    if !ms.is_finite() {
        return None;
    }
    let ms = ms as i64;
    let days = ms.div_euclid(86_400_000);
    let rest = ms.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    if !(1..=9999).contains(&y) {
        return None;
    }
    let us = (rest % 1000) * 1000;
    let secs = rest / 1000;
    Some([
        (y >> 8) as u8,
        y as u8,
        m as u8,
        d as u8,
        (secs / 3600) as u8,
        (secs / 60 % 60) as u8,
        (secs % 60) as u8,
        (us >> 16) as u8,
        (us >> 8) as u8,
        us as u8,
    ])
}

/// Year, month, day of a count of days since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Little-endian two's complement bytes of a BigInt given as sign and magnitude words.
pub fn twos_complement(negative: bool, words: &[u64]) -> Vec<u8> {
    let mut bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    bytes.push(0);
    if negative {
        negate(&mut bytes);
    }
    bytes
}

/// Two's complement negation of little-endian bytes, in place: invert, add one.
pub fn negate(le: &mut [u8]) {
    let mut carry = true;
    for b in le.iter_mut() {
        *b = !*b;
        if carry {
            let (v, c) = b.overflowing_add(1);
            *b = v;
            carry = c;
        }
    }
}
