//! Reads back a recording file written by this module: where its init
//! segment ends, each complete fragment (offset, time, duration, whether it
//! starts on a keyframe) and where the last complete fragment ends. Crash
//! recovery truncates a torn tail at `valid_len`; export copies fragments.
//! Hostile or damaged input ends the scan, never panics.

use std::io::{self, Read, Seek, SeekFrom};

/// A `moof` larger than this is not one of ours.
const MAX_MOOF: u64 = 1 << 20;

/// One complete `moof` + `mdat` pair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScannedFragment {
    pub offset: u64,
    pub len: u64,
    pub start_us: i64,
    pub duration_us: i64,
    /// The first sample is a keyframe: playback can start here.
    pub sync: bool,
    pub samples: u32,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScannedFile {
    /// Bytes of `ftyp` + `moov`.
    pub init_len: u64,
    pub fragments: Vec<ScannedFragment>,
    /// End of the last complete fragment (or of the init segment).
    pub valid_len: u64,
    pub file_len: u64,
}

impl ScannedFile {
    pub fn start_us(&self) -> Option<i64> {
        self.fragments.first().map(|f| f.start_us)
    }

    pub fn end_us(&self) -> Option<i64> {
        self.fragments.last().map(|f| f.start_us + f.duration_us)
    }
}

/// Scans an fMP4 file. Fails only when the file does not start with a
/// complete `ftyp` + `moov` (or cannot be read).
pub fn scan<R: Read + Seek>(file: &mut R) -> io::Result<ScannedFile> {
    let file_len = file.seek(SeekFrom::End(0))?;
    let mut at = 0;
    let mut out = ScannedFile {
        file_len,
        ..ScannedFile::default()
    };
    for expected in [b"ftyp", b"moov"] {
        match header(file, at, file_len)? {
            Some((fourcc, len)) if &fourcc == expected => at += len,
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "not a recording: it does not start with a complete MP4 header",
                ))
            }
        }
    }
    out.init_len = at;
    out.valid_len = at;
    while let Some(fragment) = next_fragment(file, at, file_len)? {
        at = fragment.offset + fragment.len;
        out.valid_len = at;
        out.fragments.push(fragment);
    }
    Ok(out)
}

fn next_fragment<R: Read + Seek>(
    file: &mut R,
    at: u64,
    file_len: u64,
) -> io::Result<Option<ScannedFragment>> {
    let Some((fourcc, moof_len)) = header(file, at, file_len)? else {
        return Ok(None);
    };
    if &fourcc != b"moof" || moof_len > MAX_MOOF {
        return Ok(None);
    }
    let mdat_at = at + moof_len;
    match header(file, mdat_at, file_len)? {
        Some((fourcc, _)) if &fourcc == b"mdat" => {}
        _ => return Ok(None),
    }
    let Some((_, mdat_len)) = header(file, mdat_at, file_len)? else {
        return Ok(None);
    };
    let mut moof = vec![0; moof_len as usize];
    file.seek(SeekFrom::Start(at))?;
    file.read_exact(&mut moof)?;
    let Some(run) = parse_moof(&moof) else {
        return Ok(None);
    };
    Ok(Some(ScannedFragment {
        offset: at,
        len: moof_len + mdat_len,
        start_us: run.start_us,
        duration_us: run.duration_us,
        sync: run.sync,
        samples: run.samples,
    }))
}

/// A box's type and total length, if the whole box lies within the file.
fn header<R: Read + Seek>(
    file: &mut R,
    at: u64,
    file_len: u64,
) -> io::Result<Option<([u8; 4], u64)>> {
    if at + 8 > file_len {
        return Ok(None);
    }
    let mut head = [0u8; 16];
    file.seek(SeekFrom::Start(at))?;
    file.read_exact(&mut head[..8])?;
    let fourcc = [head[4], head[5], head[6], head[7]];
    let len = match u32::from_be_bytes([head[0], head[1], head[2], head[3]]) {
        1 if at + 16 <= file_len => {
            file.read_exact(&mut head[8..16])?;
            u64::from_be_bytes(head[8..16].try_into().unwrap_or_default())
        }
        0 | 1 => return Ok(None),
        n => u64::from(n),
    };
    if len < 8 || at.saturating_add(len) > file_len {
        return Ok(None);
    }
    Ok(Some((fourcc, len)))
}

struct Run {
    start_us: i64,
    duration_us: i64,
    sync: bool,
    samples: u32,
}

/// Reads tfdt and trun out of a `moof` (boxes inside it, one track).
fn parse_moof(moof: &[u8]) -> Option<Run> {
    let traf = child(moof.get(8..)?, b"traf")?;
    let tfdt = child(traf, b"tfdt")?;
    let start_us = match *tfdt.first()? {
        1 => u64::from_be_bytes(tfdt.get(4..12)?.try_into().ok()?) as i64,
        _ => i64::from(u32::from_be_bytes(tfdt.get(4..8)?.try_into().ok()?)),
    };
    let trun = child(traf, b"trun")?;
    let flags = u32::from_be_bytes(trun.get(0..4)?.try_into().ok()?) & 0x00FF_FFFF;
    let samples = u32::from_be_bytes(trun.get(4..8)?.try_into().ok()?);
    let mut at = 8;
    if flags & 0x1 != 0 {
        at += 4;
    }
    let mut first_flags = None;
    if flags & 0x4 != 0 {
        first_flags = Some(u32::from_be_bytes(trun.get(at..at + 4)?.try_into().ok()?));
        at += 4;
    }
    let per_sample = [0x100, 0x200, 0x400, 0x800]
        .iter()
        .filter(|bit| flags & **bit != 0)
        .count()
        * 4;
    let mut duration_us = 0i64;
    for i in 0..samples as usize {
        let sample = trun.get(at + i * per_sample..at + (i + 1) * per_sample)?;
        let mut field = 0;
        if flags & 0x100 != 0 {
            duration_us += i64::from(u32::from_be_bytes(sample.get(0..4)?.try_into().ok()?));
            field += 4;
        }
        if flags & 0x200 != 0 {
            field += 4;
        }
        if i == 0 && flags & 0x400 != 0 && first_flags.is_none() {
            first_flags = Some(u32::from_be_bytes(
                sample.get(field..field + 4)?.try_into().ok()?,
            ));
        }
    }
    Some(Run {
        start_us,
        duration_us,
        // sample_is_non_sync_sample
        sync: first_flags.is_some_and(|f| f & 0x0001_0000 == 0),
        samples,
    })
}

/// The payload of the first child box of the given type (after its header).
fn child<'a>(mut data: &'a [u8], fourcc: &[u8; 4]) -> Option<&'a [u8]> {
    while data.len() >= 8 {
        let len = u32::from_be_bytes(data[0..4].try_into().ok()?) as usize;
        if len < 8 || len > data.len() {
            return None;
        }
        if &data[4..8] == fourcc {
            return Some(&data[8..len]);
        }
        data = &data[len..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fmp4::{fragment, init_segment, Sample};
    use crate::ingest::VideoParams;
    use std::io::Cursor;

    fn file_with(fragments: usize) -> Vec<u8> {
        let params = VideoParams {
            rfc6381_codec: "avc1.4D401E".to_owned(),
            extra_data: vec![],
            sample_entry: b"\0\0\0\x08avc1".to_vec(),
            width: 768,
            height: 576,
        };
        let mut file = init_segment(&params);
        let data = [0u8, 0, 0, 2, 0x65, 0x88];
        for i in 0..fragments {
            let samples: Vec<_> = (0..10)
                .map(|n| Sample {
                    duration_us: 100_000,
                    sync: n == 0 && i % 2 == 0,
                    data: &data,
                })
                .collect();
            file.extend(fragment(
                i as u32 + 1,
                5_000_000 + i as i64 * 1_000_000,
                &samples,
            ));
        }
        file
    }

    #[test]
    fn reads_back_what_the_writer_wrote() {
        let file = file_with(3);
        let scanned = scan(&mut Cursor::new(&file)).unwrap();
        assert_eq!(scanned.fragments.len(), 3);
        assert_eq!(scanned.valid_len, file.len() as u64);
        assert_eq!(scanned.start_us(), Some(5_000_000));
        assert_eq!(scanned.end_us(), Some(8_000_000));
        let syncs: Vec<bool> = scanned.fragments.iter().map(|f| f.sync).collect();
        assert_eq!(syncs, [true, false, true]);
        assert!(scanned.fragments.iter().all(|f| f.samples == 10));
    }

    #[test]
    fn a_torn_tail_is_left_out() {
        let whole = file_with(3);
        let scanned = scan(&mut Cursor::new(&whole)).unwrap();
        let second_end = scanned.fragments[1].offset + scanned.fragments[1].len;
        for cut in [second_end + 1, second_end + 20, whole.len() as u64 - 1] {
            let torn = &whole[..cut as usize];
            let scanned = scan(&mut Cursor::new(torn)).unwrap();
            assert_eq!(scanned.fragments.len(), 2, "cut at {cut}");
            assert_eq!(scanned.valid_len, second_end);
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(scan(&mut Cursor::new(b"")).is_err());
        assert!(scan(&mut Cursor::new(vec![0xFFu8; 64])).is_err());
        let mut file = file_with(1);
        let len = file.len();
        file[len - 30..].fill(0xFF);
        let scanned = scan(&mut Cursor::new(&file)).unwrap();
        assert!(scanned.fragments.len() <= 1);
    }
}
