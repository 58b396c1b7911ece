//! CRC-32C (Castagnoli), the checksum of spool records and headers.
//!
//! Records are short (a point is ~100 bytes) and one is checksummed per `log()`. The `crc32c`
//! crate is built for long buffers: per call it aligns the start byte by byte and sets up a
//! three-way interleave, ~150 instructions for a point. A straight loop of the CPU's CRC32
//! instruction over 8-byte words takes ~40; long buffers still go to the crate.

/// Buffers up to this length take the short loop (x86-64; elsewhere the crate takes them all).
#[cfg(target_arch = "x86_64")]
const SHORT: usize = 512;

/// The CRC-32C of `bytes`.
#[inline]
pub(crate) fn crc32c(bytes: &[u8]) -> u32 {
    append(0, bytes)
}

/// The CRC-32C of what `crc` was computed over followed by `bytes`.
#[inline]
pub(crate) fn append(crc: u32, bytes: &[u8]) -> u32 {
    #[cfg(target_arch = "x86_64")]
    if bytes.len() <= SHORT && std::arch::is_x86_feature_detected!("sse4.2") {
        #[allow(unsafe_code)]
        // SAFETY: the CPU has SSE4.2, which is all `append_sse42` requires; checked just above.
        return unsafe { append_sse42(crc, bytes) };
    }
    crc32c::crc32c_append(crc, bytes)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse4.2")]
fn append_sse42(crc: u32, bytes: &[u8]) -> u32 {
    use std::arch::x86_64::{_mm_crc32_u16, _mm_crc32_u32, _mm_crc32_u64, _mm_crc32_u8};
    let mut words = bytes.chunks_exact(8);
    let mut sum = u64::from(!crc);
    for word in &mut words {
        sum = _mm_crc32_u64(sum, u64::from_le_bytes(word.try_into().expect("8 bytes")));
    }
    // The instruction's result fits in 32 bits.
    let mut sum = sum as u32;
    // The last 0–7 bytes in at most three steps, not one dependent step per byte.
    let mut tail = words.remainder();
    if let Some((four, rest)) = tail.split_first_chunk::<4>() {
        sum = _mm_crc32_u32(sum, u32::from_le_bytes(*four));
        tail = rest;
    }
    if let Some((two, rest)) = tail.split_first_chunk::<2>() {
        sum = _mm_crc32_u16(sum, u16::from_le_bytes(*two));
        tail = rest;
    }
    if let Some(&byte) = tail.first() {
        sum = _mm_crc32_u8(sum, byte);
    }
    !sum
}

#[cfg(test)]
mod tests {
    #[test]
    fn agrees_with_the_crc32c_crate_at_every_length_and_split() {
        let data: Vec<u8> = (0..1_200u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for len in 0..data.len() {
            let bytes = &data[..len];
            assert_eq!(super::crc32c(bytes), crc32c::crc32c(bytes), "length {len}");
        }
        for split in 0..200 {
            let (head, tail) = data[..200].split_at(split);
            assert_eq!(
                super::append(super::crc32c(head), tail),
                crc32c::crc32c(&data[..200]),
                "split at {split}"
            );
        }
        // The check value of the CRC-32C standard.
        assert_eq!(super::crc32c(b"123456789"), 0xE306_9283);
    }
}
