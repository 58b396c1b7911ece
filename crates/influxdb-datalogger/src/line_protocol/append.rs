//! Appending the pieces of a line to a buffer without a call per piece.
//!
//! A point is ~11 short pieces of varying length (names, keys, values, digits). Through
//! `extend_from_slice` each is a call into `memcpy` (~1.3 ns each on the machine we measure
//! on); here each is two overlapping fixed-width moves: ~9–13 % less time per encoded point.
//! Timestamps are written from registers, not copied from `itoa`'s buffer.

use std::mem::MaybeUninit;

/// Appends `bytes` to `out`: up to 32 bytes with two overlapping fixed-width moves, longer
/// ones with `extend_from_slice`.
#[inline(always)]
#[allow(unsafe_code)]
pub(crate) fn append_short(out: &mut Vec<u8>, bytes: &[u8]) {
    let n = bytes.len();
    if n > 32 {
        out.extend_from_slice(bytes);
        return;
    }
    out.reserve(32);
    let at = out.len();
    let to = &mut out.spare_capacity_mut()[..32];
    match n {
        16..=32 => {
            put::<16>(&mut to[..16], &bytes[..16]);
            put::<16>(&mut to[n - 16..n], &bytes[n - 16..]);
        }
        8..=15 => {
            put::<8>(&mut to[..8], &bytes[..8]);
            put::<8>(&mut to[n - 8..n], &bytes[n - 8..]);
        }
        4..=7 => {
            put::<4>(&mut to[..4], &bytes[..4]);
            put::<4>(&mut to[n - 4..n], &bytes[n - 4..]);
        }
        1..=3 => {
            to[0].write(bytes[0]);
            to[n / 2].write(bytes[n / 2]);
            to[n - 1].write(bytes[n - 1]);
        }
        _ => {}
    }
    // SAFETY: `reserve` made room for 32 bytes past `at`, and the arm taken above wrote every
    // one of `to[..n]`: two W-byte moves, one starting at 0 and one ending at n, cover 0..n
    // whenever W <= n <= 2W; for n < 4, positions 0, n/2 and n-1 are all there are.
    unsafe { out.set_len(at + n) }
}

/// Copies exactly `W` bytes: one fixed-width move once compiled. (Copying byte by byte into
/// `MaybeUninit` is not merged into one move; assigning a whole array is.)
#[inline(always)]
fn put<const W: usize>(to: &mut [MaybeUninit<u8>], from: &[u8]) {
    let to: &mut [MaybeUninit<u8>; W] = to.try_into().expect("W bytes");
    let from: &[u8; W] = from.try_into().expect("W bytes");
    *to = from.map(MaybeUninit::new);
}

/// Appends `n` in decimal, with a `-` if negative: what `itoa` writes, but computed eight digits
/// at a time in registers and stored straight into the buffer. Copying `itoa`'s digits right
/// after it stored them four bytes at a time made the copy's wide load wait for those stores to
/// land (~8 % of an encoded point's time in the criterion benchmark).
#[inline]
#[allow(unsafe_code)]
pub(crate) fn append_integer(out: &mut Vec<u8>, n: i64) {
    if n < 0 {
        out.push(b'-');
    }
    let n = n.unsigned_abs();
    // The leading group of one to eight digits, then zero to two groups of eight.
    let (lead, middle, last, whole) = if n < TEN_TO_8 {
        (n, 0, 0, 0)
    } else if n < TEN_TO_16 {
        (n / TEN_TO_8, n % TEN_TO_8, 0, 8)
    } else {
        let rest = n % TEN_TO_16;
        (n / TEN_TO_16, rest / TEN_TO_8, rest % TEN_TO_8, 16)
    };
    let lead = eight_digits(lead as u32);
    // The leading group's leading zeros are its low bytes that are '0'; keep its last digit.
    let zeros = ((lead ^ ASCII_ZEROS).trailing_zeros() / 8).min(7) as usize;
    let lead_len = 8 - zeros;
    out.reserve(24);
    let at = out.len();
    let to = &mut out.spare_capacity_mut()[..24];
    put::<8>(&mut to[..8], &(lead >> (8 * zeros)).to_le_bytes());
    put::<8>(
        &mut to[lead_len..lead_len + 8],
        &eight_digits(middle as u32).to_le_bytes(),
    );
    put::<8>(
        &mut to[lead_len + 8..lead_len + 16],
        &eight_digits(last as u32).to_le_bytes(),
    );
    // SAFETY: `reserve` made room for 24 bytes past `at`; the three moves above wrote
    // `to[..lead_len + 16]`, of which the first `lead_len + whole` are the number.
    unsafe { out.set_len(at + lead_len + whole) }
}

/// Appends a finite float in the shortest form that reads back exactly, with the short exponent
/// form (`1e300`, `1.5e-7`) that every InfluxDB parser takes.
///
/// `zmij` formats into its own `Buffer`; that buffer is placed in `out`'s spare capacity, so the
/// digits are written where they belong. Copying them out of a buffer on the stack right after
/// `zmij` stored them made the copy wait for those stores (~9 % of an encoded point's time).
#[inline]
#[allow(unsafe_code)]
pub(crate) fn append_float(out: &mut Vec<u8>, v: f64) {
    // The spare capacity is only byte-aligned.
    const _: () = assert!(align_of::<zmij::Buffer>() == 1);
    const ROOM: usize = size_of::<zmij::Buffer>();
    debug_assert!(v.is_finite());
    out.reserve(ROOM);
    let at = out.len();
    let spare = out.spare_capacity_mut().as_mut_ptr();
    // SAFETY: `reserve` made room for `ROOM` bytes at `spare`, which nothing else refers to
    // while `out` is borrowed here, and `zmij::Buffer` needs no more alignment than a byte.
    // Writing a fresh `Buffer` there (its bytes are uninitialised, so nothing is stored) makes
    // it a `Buffer` whatever its private layout, and the reference is its only one.
    let buffer = unsafe {
        let place = spare.cast::<zmij::Buffer>();
        place.write(zmij::Buffer::new());
        &mut *place
    };
    let text = buffer.format_finite(v).as_bytes();
    let len = text.len();
    if text.as_ptr() != spare.cast_const().cast::<u8>() {
        // `zmij` returns its text "within the buffer", not necessarily at its start; it does
        // start there in every version we have read, but if not, bring it forward.
        let mut moved = [0u8; ROOM];
        moved[..len].copy_from_slice(text);
        append_short(out, &moved[..len]);
    } else {
        // SAFETY: `zmij` wrote the `len` bytes of its text at `spare`, the first spare byte.
        unsafe { out.set_len(at + len) }
    }
    // `zmij` writes a positive exponent as `e+300`; drop the `+`. Only |v| >= 10 can have one.
    if v.abs() >= 10.0 {
        let line = &mut out[at..];
        if let Some(plus) = line.iter().position(|&b| b == b'+') {
            line.copy_within(plus + 1.., plus);
            out.pop();
        }
    }
}

const TEN_TO_8: u64 = 100_000_000;
const TEN_TO_16: u64 = TEN_TO_8 * TEN_TO_8;
const ASCII_ZEROS: u64 = 0x3030_3030_3030_3030;

/// The eight ASCII digits of `x` (below 10^8, leading zeros included), the first digit in the
/// lowest byte: split into two halves of four digits, each into two of two, each into two
/// digits, every lane at once.
#[inline(always)]
fn eight_digits(x: u32) -> u64 {
    debug_assert!(u64::from(x) < TEN_TO_8);
    // Two 32-bit lanes: the first four digits, the last four.
    let fours = u64::from(x / 10_000) | (u64::from(x % 10_000) << 32);
    // y / 100 is (y * 10486) >> 20 for every y below 10^4; nothing crosses a lane.
    let hundreds = ((fours * 10_486) >> 20) & 0x0000_007F_0000_007F;
    let twos = hundreds | ((fours - hundreds * 100) << 16);
    // z / 10 is (z * 103) >> 10 for every z below 100.
    let tens = ((twos * 103) >> 10) & 0x000F_000F_000F_000F;
    let ones = twos - tens * 10;
    (tens | (ones << 8)) | ASCII_ZEROS
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn short_pieces_of_every_length_are_copied_whole() {
        let source: Vec<u8> = (1..=40).collect();
        for start in [0, 1, 7, 31] {
            for n in 0..=40 {
                let mut out = vec![0xEE; start];
                append_short(&mut out, &source[..n]);
                assert_eq!(&out[start..], &source[..n], "length {n} after {start}");
                assert_eq!(out.len(), start + n);
            }
        }
    }

    #[test]
    fn pieces_appended_one_after_another_read_as_extend_writes_them() {
        let source: Vec<u8> = (0..=255).collect();
        let (mut ours, mut plain) = (Vec::new(), Vec::new());
        for n in (0..=40).chain((0..=40).rev()) {
            let piece = &source[n * 3 % 200..][..n];
            append_short(&mut ours, piece);
            plain.extend_from_slice(piece);
        }
        assert_eq!(ours, plain);
    }

    /// What `append` writes for `value` into an empty buffer.
    fn appended<V>(append: fn(&mut Vec<u8>, V), value: V) -> String {
        let mut out = Vec::new();
        append(&mut out, value);
        String::from_utf8(out).unwrap()
    }

    fn decimal(n: i64) -> String {
        appended(append_integer, n)
    }

    #[test]
    fn integers_at_every_digit_count_and_edge() {
        let mut edges = vec![0, 1, -1, i64::MAX, i64::MIN, i64::MIN + 1];
        let mut power: i64 = 1;
        for _ in 0..18 {
            power *= 10;
            edges.extend([power - 1, power, power + 1, -power, 1 - power]);
        }
        for n in edges {
            assert_eq!(decimal(n), n.to_string());
        }
        assert_eq!(&eight_digits(0).to_le_bytes(), b"00000000");
        assert_eq!(&eight_digits(12_345_678).to_le_bytes(), b"12345678");
        assert_eq!(&eight_digits(99_999_999).to_le_bytes(), b"99999999");
    }

    #[test]
    fn every_number_below_a_million_and_every_9973rd_below_10_to_8() {
        for n in (0..1_000_000).chain((0..100_000_000).step_by(9_973)) {
            assert_eq!(decimal(n), n.to_string());
        }
    }

    #[test]
    fn integers_land_after_what_the_buffer_holds_across_reallocations() {
        let mut out = Vec::new();
        let mut expected = String::new();
        for n in [
            7,
            -1_764_000_000_123_456_789,
            0,
            123_456_789_012,
            i64::MIN,
            42,
        ] {
            append_integer(&mut out, n);
            out.push(b' ');
            expected.push_str(&format!("{n} "));
        }
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }

    fn float(v: f64) -> String {
        appended(append_float, v)
    }

    #[test]
    fn floats_in_their_shortest_form_with_short_exponents() {
        for (v, text) in [
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (0.001_234_567, "0.001234567"),
            (123_456.789, "123456.789"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e16"),
            (-1.25e16, "-1.25e16"),
            (1e300, "1e300"),
            (f64::MAX, "1.7976931348623157e308"),
            (1.5e-7, "1.5e-7"),
            (5e-324, "5e-324"),
            (f64::MIN_POSITIVE, "2.2250738585072014e-308"),
        ] {
            assert_eq!(float(v), text, "{v:e}");
        }
    }

    #[test]
    fn floats_land_after_what_the_buffer_holds_across_reallocations() {
        let mut out = Vec::new();
        let mut expected = String::new();
        for (i, v) in [1e300, -0.5, 1.7976931348623157e308, 3.0, 1e-300, 12.5]
            .into_iter()
            .cycle()
            .take(200)
            .enumerate()
        {
            append_float(&mut out, v);
            out.push(b' ');
            expected.push_str(&float(v));
            expected.push(' ');
            // Every capacity boundary is crossed at some offset.
            if i % 7 == 0 {
                out.shrink_to_fit();
            }
        }
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]
        #[test]
        fn integers_read_as_std_writes_them(n in any::<i64>()) {
            prop_assert_eq!(decimal(n), n.to_string());
        }

        #[test]
        fn floats_read_back_exactly_after_any_prefix(
            bits in any::<u64>(),
            prefix in 0usize..40,
        ) {
            let v = f64::from_bits(bits);
            prop_assume!(v.is_finite());
            let mut out = vec![b'x'; prefix];
            append_float(&mut out, v);
            prop_assert!(out[..prefix].iter().all(|&b| b == b'x'));
            let text = std::str::from_utf8(&out[prefix..]).unwrap();
            prop_assert!(!text.contains('+'), "{}", text);
            prop_assert_eq!(text.parse::<f64>().unwrap().to_bits(), bits, "{}", text);
        }
    }
}
