//! Reading opcode arguments from a stream: the one definition of "the next `n` bytes"
//! and "the rest of the line" that the decode machine, the scanner and the
//! disassembler share. Each returns `None` when the input ends first; the caller turns
//! that into its own truncation error at its own offset. Nothing here allocates.

/// The `n` bytes at `*pos`, advancing past them; `None` (and `*pos` unchanged) when
/// fewer than `n` remain.
#[inline]
pub fn take<'a>(data: &'a [u8], pos: &mut usize, n: usize) -> Option<&'a [u8]> {
    let s = data.get(*pos..)?.get(..n)?;
    *pos += n;
    Some(s)
}

/// The bytes from `*pos` up to the next newline, advancing past the newline (which is
/// not returned); `None` (and `*pos` unchanged) when no newline follows.
#[inline]
pub fn line<'a>(data: &'a [u8], pos: &mut usize) -> Option<&'a [u8]> {
    let rest = data.get(*pos..)?;
    let n = rest.iter().position(|&b| b == b'\n')?;
    *pos += n + 1;
    Some(&rest[..n])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_stops_at_the_end_without_moving() {
        let data = b"abcdef";
        let mut pos = 2;
        assert_eq!(take(data, &mut pos, 3), Some(&b"cde"[..]));
        assert_eq!(pos, 5);
        assert_eq!(take(data, &mut pos, 2), None);
        assert_eq!(pos, 5);
        assert_eq!(take(data, &mut pos, 1), Some(&b"f"[..]));
        assert_eq!(take(data, &mut pos, 0), Some(&b""[..]));
        let mut past = 9;
        assert_eq!(take(data, &mut past, 0), None);
    }

    #[test]
    fn line_consumes_the_newline_but_does_not_return_it() {
        let data = b"I42\n\nrest";
        let mut pos = 1;
        assert_eq!(line(data, &mut pos), Some(&b"42"[..]));
        assert_eq!(pos, 4);
        assert_eq!(line(data, &mut pos), Some(&b""[..]));
        assert_eq!(pos, 5);
        assert_eq!(line(data, &mut pos), None);
        assert_eq!(pos, 5);
    }
}
