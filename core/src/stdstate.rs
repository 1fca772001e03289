//! The state standard-library types pickle themselves with, read as data: the packed
//! bytes of `datetime.datetime`, `date` and `time`, the fields of `timedelta` (and so of
//! a `timezone`'s offset), the `int` of a `uuid.UUID`, and the Latin-1 text Python 2 and
//! `_codecs.encode` use for bytes. A binding that shows these values in its own types
//! (Node's `Date`, UUID strings) reads them here, so every binding reads them alike.
//! Nothing here finds the state in a tree (each host walks its own), and nothing is
//! validated beyond what the reading needs: `datetime`'s own constructor is the judge of
//! a date, and a host that calls it needs none of this.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// The fields of a `datetime.datetime`'s first state argument (10 bytes: year high,
/// year low, month, day, hour, minute, second, microsecond in 3 bytes). The `fold` bit
/// CPython keeps in the high bit of the month (and older streams in the hour) is
/// masked off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime {
    pub year: i64,
    pub month: i64,
    pub day: i64,
    pub hour: i64,
    pub minute: i64,
    pub second: i64,
    pub microsecond: i64,
}

impl DateTime {
    /// Reads the packed state; `None` unless it is 10 bytes.
    pub fn from_state(b: &[u8]) -> Option<DateTime> {
        let b: &[u8; 10] = b.try_into().ok()?;
        Some(DateTime {
            year: i64::from(b[0]) * 256 + i64::from(b[1]),
            month: i64::from(b[2] & 0x7f),
            day: i64::from(b[3]),
            hour: i64::from(b[4] & 0x7f),
            minute: i64::from(b[5]),
            second: i64::from(b[6]),
            microsecond: micros(b[7], b[8], b[9]),
        })
    }

    /// Microseconds since 1970-01-01T00:00, reading the fields as UTC.
    pub fn unix_micros(&self) -> i64 {
        let days = days_from_civil(self.year, self.month, self.day);
        let secs = self.hour * 3600 + self.minute * 60 + self.second;
        (days * 86_400 + secs) * 1_000_000 + self.microsecond
    }
}

/// The fields of a `datetime.date`'s state (4 bytes: year high, year low, month, day).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Date {
    pub year: i64,
    pub month: i64,
    pub day: i64,
}

impl Date {
    /// Reads the packed state; `None` unless it is 4 bytes.
    pub fn from_state(b: &[u8]) -> Option<Date> {
        let b: &[u8; 4] = b.try_into().ok()?;
        Some(Date {
            year: i64::from(b[0]) * 256 + i64::from(b[1]),
            month: i64::from(b[2]),
            day: i64::from(b[3]),
        })
    }

    /// Days since 1970-01-01.
    pub fn unix_days(&self) -> i64 {
        days_from_civil(self.year, self.month, self.day)
    }
}

/// The fields of a `datetime.time`'s state (6 bytes: hour, minute, second, microsecond
/// in 3 bytes); the `fold` bit in the hour's high bit is masked off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Time {
    pub hour: i64,
    pub minute: i64,
    pub second: i64,
    pub microsecond: i64,
}

impl Time {
    /// Reads the packed state; `None` unless it is 6 bytes.
    pub fn from_state(b: &[u8]) -> Option<Time> {
        let b: &[u8; 6] = b.try_into().ok()?;
        Some(Time {
            hour: i64::from(b[0] & 0x7f),
            minute: i64::from(b[1]),
            second: i64::from(b[2]),
            microsecond: micros(b[3], b[4], b[5]),
        })
    }
}

fn micros(hi: u8, mid: u8, lo: u8) -> i64 {
    i64::from(hi) << 16 | i64::from(mid) << 8 | i64::from(lo)
}

/// A `timedelta(days, seconds, microseconds)` (its pickled arguments, and the offset of
/// a `datetime.timezone`) in microseconds.
pub fn timedelta_micros(days: i64, seconds: i64, microseconds: i64) -> i64 {
    (days * 86_400 + seconds) * 1_000_000 + microseconds
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A `uuid.UUID`'s `int` from its little-endian two's complement bytes (a big int
/// node); `None` when it is negative or does not fit 128 bits.
pub fn uuid_int(le: &[u8]) -> Option<u128> {
    let le = match le.split_last() {
        Some((0, rest)) => rest,
        _ => le,
    };
    if le.len() > 16 || le.last().is_some_and(|b| b & 0x80 != 0) && le.len() == 17 {
        return None;
    }
    Some(
        le.iter()
            .rev()
            .fold(0u128, |acc, &b| (acc << 8) | u128::from(b)),
    )
}

/// The canonical text of a UUID, `str(uuid.UUID(int=value))`.
pub fn uuid_text(value: u128) -> String {
    let hex = format!("{value:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// The Latin-1 bytes of `s` (what Python 2 `str` and `encoding="latin1"` give, and how
/// `_codecs.encode(text, "latin1")` carries bytes); `None` when a character is beyond
/// U+00FF.
pub fn latin1(s: &str) -> Option<Vec<u8>> {
    s.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect()
}

/// Whether `encoding` names Latin-1 as the `_codecs.encode` reduction of bytes spells it.
pub fn is_latin1_name(encoding: &str) -> bool {
    matches!(encoding, "latin1" | "latin-1" | "iso-8859-1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetime_state_reads_as_python_packs_it() {
        // datetime.datetime(2024, 5, 1, 13, 45, 6, 789012).__reduce__()[1][0]
        let state = [0x07, 0xe8, 5, 1, 13, 45, 6, 0x0c, 0x0a, 0x14];
        let dt = DateTime::from_state(&state).unwrap();
        assert_eq!((dt.year, dt.month, dt.day), (2024, 5, 1));
        assert_eq!(
            (dt.hour, dt.minute, dt.second, dt.microsecond),
            (13, 45, 6, 789_012)
        );
        // datetime(2024,5,1,13,45,6,789012, tzinfo=timezone.utc).timestamp() * 1e6
        assert_eq!(dt.unix_micros(), 1_714_571_106_789_012);
        let mut folded = state;
        folded[2] |= 0x80;
        assert_eq!(DateTime::from_state(&folded), Some(dt));
        assert_eq!(DateTime::from_state(&state[..9]), None);
    }

    #[test]
    fn date_and_time_states() {
        let d = Date::from_state(&[0x07, 0xb2, 1, 1]).unwrap();
        assert_eq!(d.unix_days(), 0);
        assert_eq!(
            Date::from_state(&[0, 1, 1, 1]).unwrap().unix_days(),
            -719_162
        );
        let t = Time::from_state(&[0x80 | 23, 59, 58, 0x0f, 0x42, 0x3f]).unwrap();
        assert_eq!(
            (t.hour, t.minute, t.second, t.microsecond),
            (23, 59, 58, 999_999)
        );
        assert_eq!(timedelta_micros(-1, 86_399, 1), -999_999);
    }

    #[test]
    fn uuid_int_and_text() {
        let value = 0x1234_5678_9abc_def0_0fed_cba9_8765_4321_u128;
        let mut le = value.to_le_bytes().to_vec();
        le.push(0);
        assert_eq!(uuid_int(&le), Some(value));
        assert_eq!(uuid_text(value), "12345678-9abc-def0-0fed-cba987654321");
        assert_eq!(uuid_int(&[0xff]), Some(0xff));
        assert_eq!(uuid_int(&[0u8; 18]), None);
        assert_eq!(latin1("é\u{ff}"), Some(alloc::vec![0xe9, 0xff]));
        assert_eq!(latin1("\u{100}"), None);
    }
}
