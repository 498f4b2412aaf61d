//! How the store keeps a payload (an order's or a quarantined item's raw body, a buyer's page as served):
//! compressed with LZ4, behind a tag byte and the payload's length.
//!
//! LZ4 rather than zlib: an order's body is about a kilobyte, and compressing it with zlib took 7 % of the
//! server's CPU at concurrency 1, half of it resetting zlib's tables (some 230 KB zeroed a payload, which also
//! pushed SQLite's pages out of the core's caches just before the commit). LZ4 keeps a few kilobytes of state and compresses
//! a kilobyte in a few microseconds; ingest at concurrency 1 answered 6 to 19 % more orders a second with
//! it, in alternating runs.
//! Files written before keep their zlib blobs, which read as before: a zlib stream's first byte is always
//! `0x78` (deflate with a 32 KiB window), never the LZ4 tag.

use std::io::Read;

use flate2::read::ZlibDecoder;

/// The first byte of a payload compressed with LZ4. As a zlib header byte it would name compression method
/// 4, which zlib does not have, so no zlib blob begins with it.
const LZ4_TAG: u8 = 0x04;

/// The tag and the payload's length (four bytes, little-endian).
const HEADER: usize = 5;

/// LZ4 cannot make more than this many bytes out of one compressed byte (a match's length grows by at most
/// 255 a byte), so a longer length in a header is a corrupt header, refused before any memory is taken.
const MOST_EXPANSION: usize = 255;

/// Why a payload was not packed or unpacked.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    /// A payload of 4 GiB or more (the length is kept in four bytes; request bodies are far smaller).
    #[error("a payload of {0} bytes is too large to keep")]
    TooLarge(usize),
    /// LZ4 refused to compress (it cannot, given room for its worst case; kept rather than a panic).
    #[error("cannot compress a payload: {0}")]
    Compress(String),
    /// A stored blob that does not decompress: the file, not the service, is wrong.
    #[error("a stored payload does not decompress: {0}")]
    Corrupt(String),
}

/// `raw` compressed, as the store keeps it.
pub fn pack(raw: &[u8]) -> Result<Vec<u8>, PayloadError> {
    let len = u32::try_from(raw.len()).map_err(|_| PayloadError::TooLarge(raw.len()))?;
    let mut blob = vec![0; HEADER + lz4_flex::block::get_maximum_output_size(raw.len())];
    blob[0] = LZ4_TAG;
    blob[1..HEADER].copy_from_slice(&len.to_le_bytes());
    let written =
        lz4_flex::block::compress_into(raw, &mut blob[HEADER..]).map_err(|e| PayloadError::Compress(e.to_string()))?;
    blob.truncate(HEADER + written);
    Ok(blob)
}

/// The payload a stored blob holds: an LZ4 blob of this build, or a zlib blob of the builds before it.
pub fn unpack(blob: &[u8]) -> Result<Vec<u8>, PayloadError> {
    match blob.split_first() {
        Some((&LZ4_TAG, rest)) => unpack_lz4(rest),
        _ => unpack_zlib(blob),
    }
}

fn unpack_lz4(rest: &[u8]) -> Result<Vec<u8>, PayloadError> {
    let corrupt = |why: &str| PayloadError::Corrupt(why.to_owned());
    let (len, block) = rest
        .split_first_chunk::<4>()
        .ok_or_else(|| corrupt("its header is cut short"))?;
    let len = usize::try_from(u32::from_le_bytes(*len)).map_err(|_| corrupt("its length does not fit"))?;
    if len > block.len().saturating_mul(MOST_EXPANSION) {
        return Err(corrupt("its length is more than its compressed bytes can hold"));
    }
    let mut raw = vec![0; len];
    let written =
        lz4_flex::block::decompress_into(block, &mut raw).map_err(|e| PayloadError::Corrupt(e.to_string()))?;
    if written != len {
        return Err(corrupt("it holds fewer bytes than its header says"));
    }
    Ok(raw)
}

fn unpack_zlib(blob: &[u8]) -> Result<Vec<u8>, PayloadError> {
    let mut raw = Vec::with_capacity(blob.len() * 3);
    ZlibDecoder::new(blob)
        .read_to_end(&mut raw)
        .map_err(|e| PayloadError::Corrupt(e.to_string()))?;
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::ZlibEncoder;

    use super::*;

    fn payloads() -> Vec<Vec<u8>> {
        vec![
            b"{\"id\":1}".to_vec(),
            (0..200_000u32).flat_map(|i| (i * 7919 % 251).to_le_bytes()).collect(),
            vec![],
            "注文 #1001 ご注文ありがとうございます".as_bytes().to_vec(),
            // Incompressible: LZ4 stores it nearly as it is.
            (0..5_000u32)
                .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
                .collect(),
        ]
    }

    #[test]
    fn payloads_packed_one_after_another_each_unpack_to_themselves() {
        for payload in payloads() {
            let blob = pack(&payload).unwrap();
            assert_eq!(blob[0], LZ4_TAG);
            assert_eq!(unpack(&blob).unwrap(), payload);
        }
    }

    #[test]
    fn a_repetitive_payload_is_kept_smaller_than_it_came() {
        let raw: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let blob = pack(&raw).unwrap();
        assert!(blob.len() < raw.len() / 10, "{} bytes", blob.len());
        assert_eq!(unpack(&blob).unwrap(), raw);
    }

    #[test]
    fn zlib_blobs_written_by_earlier_builds_still_unpack() {
        for payload in payloads() {
            let mut z = ZlibEncoder::new(Vec::new(), Compression::default());
            z.write_all(&payload).unwrap();
            let blob = z.finish().unwrap();
            assert_eq!(blob[0], 0x78, "a zlib stream's first byte");
            assert_eq!(unpack(&blob).unwrap(), payload);
        }
    }

    #[test]
    fn corrupt_blobs_are_refused_without_taking_the_memory_their_header_claims() {
        let good = pack(b"{\"order\":\"#1001\",\"items\":[1,2,3,1,2,3,1,2,3]}").unwrap();
        let mut claims_4_gib = good.clone();
        claims_4_gib[1..HEADER].copy_from_slice(&u32::MAX.to_le_bytes());
        let mut claims_more = good.clone();
        claims_more[1] += 1;
        let mut claims_less = good.clone();
        claims_less[1] -= 1;
        for blob in [
            &b"not zlib"[..],
            &[LZ4_TAG][..],
            &[LZ4_TAG, 1, 0][..],
            &good[..good.len() - 1],
            &claims_4_gib,
            &claims_more,
            &claims_less,
        ] {
            assert!(matches!(unpack(blob), Err(PayloadError::Corrupt(_))), "{blob:?}");
        }
    }
}
