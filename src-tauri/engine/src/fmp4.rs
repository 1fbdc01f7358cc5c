//! The one fragmented-MP4 writer: an init segment (ftyp+moov) from a
//! stream's parameters, then one media segment (moof+mdat) per access unit,
//! the camera's own H.264 or H.265 passed through untouched. The live view
//! sends these over a WebSocket into Media Source Extensions; recording
//! writes the same boxes to segment files, and [`scan`] reads such a file
//! back (crash recovery, export).
//!
//! Time: the track timescale is 1 MHz and every fragment's `tfdt` is the
//! frame's `media_time` (UTC µs), so a player or a file maps straight back to
//! the one clock.

use crate::ingest::VideoParams;

mod scan;
pub use scan::{scan, ScannedFile, ScannedFragment};

/// Track timescale: microseconds, the unit of `media_time`.
pub const TIMESCALE: u32 = 1_000_000;
const TRACK_ID: u32 = 1;
/// sample_depends_on = 2 (an I-frame).
const SYNC_SAMPLE_FLAGS: u32 = 0x0200_0000;
/// sample_depends_on = 1, sample_is_non_sync_sample = 1.
const NON_SYNC_SAMPLE_FLAGS: u32 = 0x0101_0000;
/// trun: data offset, and per sample its duration, size and flags.
const TRUN_FLAGS: u32 = 0x000001 | 0x000100 | 0x000200 | 0x000400;

/// Writes nested ISO BMFF boxes, patching each size when the box closes.
struct Boxes {
    buf: Vec<u8>,
    open: Vec<usize>,
}

impl Boxes {
    fn new(capacity: usize) -> Self {
        Self {
            buf: Vec::with_capacity(capacity),
            open: Vec::new(),
        }
    }

    fn start(&mut self, fourcc: &[u8; 4]) -> &mut Self {
        self.open.push(self.buf.len());
        self.buf.extend_from_slice(&[0, 0, 0, 0]);
        self.buf.extend_from_slice(fourcc);
        self
    }

    fn start_full(&mut self, fourcc: &[u8; 4], version: u8, flags: u32) -> &mut Self {
        self.start(fourcc)
            .u32((u32::from(version) << 24) | (flags & 0x00FF_FFFF))
    }

    fn end(&mut self) -> &mut Self {
        if let Some(start) = self.open.pop() {
            let size = (self.buf.len() - start) as u32;
            self.buf[start..start + 4].copy_from_slice(&size.to_be_bytes());
        }
        self
    }

    fn u16(&mut self, v: u16) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    fn u32(&mut self, v: u32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    fn u64(&mut self, v: u64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(b);
        self
    }

    fn zeros(&mut self, n: usize) -> &mut Self {
        self.buf.resize(self.buf.len() + n, 0);
        self
    }

    fn matrix(&mut self) -> &mut Self {
        for v in [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000] {
            self.u32(v);
        }
        self
    }
}

/// `ftyp` + `moov` for one H.264 video track.
pub fn init_segment(params: &VideoParams) -> Vec<u8> {
    let mut b = Boxes::new(1024 + params.sample_entry.len());
    b.start(b"ftyp").bytes(b"iso5").u32(512);
    for brand in [b"iso5", b"iso6", b"mp41"] {
        b.bytes(brand);
    }
    b.end();

    b.start(b"moov");
    b.start_full(b"mvhd", 0, 0)
        .u32(0) // creation time
        .u32(0) // modification time
        .u32(TIMESCALE)
        .u32(0) // duration: unknown (fragmented)
        .u32(0x0001_0000) // rate 1.0
        .u16(0x0100) // volume 1.0
        .zeros(10)
        .matrix()
        .zeros(24)
        .u32(TRACK_ID + 1) // next track id
        .end();
    b.start(b"trak");
    b.start_full(b"tkhd", 0, 0x3) // enabled, in movie
        .u32(0)
        .u32(0)
        .u32(TRACK_ID)
        .u32(0)
        .u32(0) // duration
        .zeros(8)
        .u16(0) // layer
        .u16(0) // alternate group
        .u16(0) // volume: video
        .u16(0)
        .matrix()
        .u32(params.width << 16)
        .u32(params.height << 16)
        .end();
    b.start(b"mdia");
    b.start_full(b"mdhd", 0, 0)
        .u32(0)
        .u32(0)
        .u32(TIMESCALE)
        .u32(0)
        .u16(0x55C4) // language "und"
        .u16(0)
        .end();
    b.start_full(b"hdlr", 0, 0)
        .u32(0)
        .bytes(b"vide")
        .zeros(12)
        .bytes(b"Peregrine video\0")
        .end();
    b.start(b"minf");
    b.start_full(b"vmhd", 0, 1).zeros(8).end();
    b.start(b"dinf");
    b.start_full(b"dref", 0, 0).u32(1);
    b.start_full(b"url ", 0, 1).end(); // media in the same file
    b.end().end();
    b.start(b"stbl");
    b.start_full(b"stsd", 0, 0)
        .u32(1)
        .bytes(&params.sample_entry)
        .end();
    b.start_full(b"stts", 0, 0).u32(0).end();
    b.start_full(b"stsc", 0, 0).u32(0).end();
    b.start_full(b"stsz", 0, 0).u32(0).u32(0).end();
    b.start_full(b"stco", 0, 0).u32(0).end();
    b.end(); // stbl
    b.end(); // minf
    b.end(); // mdia
    b.end(); // trak
    b.start(b"mvex");
    b.start_full(b"trex", 0, 0)
        .u32(TRACK_ID)
        .u32(1) // sample description index
        .u32(0)
        .u32(0)
        .u32(0)
        .end();
    b.end(); // mvex
    b.end(); // moov
    b.buf
}

/// One sample (access unit) of a fragment.
#[derive(Clone, Copy, Debug)]
pub struct Sample<'a> {
    pub duration_us: u32,
    pub sync: bool,
    /// Length-prefixed NALs.
    pub data: &'a [u8],
}

/// One `moof` + `mdat` holding one access unit (length-prefixed NALs).
pub fn media_segment(
    sequence: u32,
    media_time: i64,
    duration_us: u32,
    sync: bool,
    data: &[u8],
) -> Vec<u8> {
    fragment(
        sequence,
        media_time,
        &[Sample {
            duration_us,
            sync,
            data,
        }],
    )
}

/// One `moof` + `mdat` holding consecutive samples, the first at
/// `media_time`: the unit recording flushes (and fsyncs) at once.
pub fn fragment(sequence: u32, media_time: i64, samples: &[Sample]) -> Vec<u8> {
    let payload: usize = samples.iter().map(|s| s.data.len()).sum();
    let mut b = Boxes::new(128 + 12 * samples.len() + payload);
    b.start(b"moof");
    b.start_full(b"mfhd", 0, 0).u32(sequence).end();
    b.start(b"traf");
    b.start_full(b"tfhd", 0, 0x02_0000).u32(TRACK_ID).end(); // default-base-is-moof
    b.start_full(b"tfdt", 1, 0)
        .u64(media_time.max(0) as u64)
        .end();
    b.start_full(b"trun", 0, TRUN_FLAGS)
        .u32(samples.len() as u32);
    let data_offset_at = b.buf.len();
    b.u32(0);
    for sample in samples {
        b.u32(sample.duration_us)
            .u32(sample.data.len() as u32)
            .u32(if sample.sync {
                SYNC_SAMPLE_FLAGS
            } else {
                NON_SYNC_SAMPLE_FLAGS
            });
    }
    b.end(); // trun
    b.end(); // traf
    b.end(); // moof
    let data_offset = (b.buf.len() + 8) as u32; // from the start of moof to the first sample
    b.buf[data_offset_at..data_offset_at + 4].copy_from_slice(&data_offset.to_be_bytes());
    b.start(b"mdat");
    for sample in samples {
        b.bytes(sample.data);
    }
    b.end();
    b.buf
}

/// The MIME type a Media Source needs for this stream.
pub fn mime_type(params: &VideoParams) -> String {
    format!("video/mp4; codecs=\"{}\"", params.rfc6381_codec)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Walks top-level boxes: (fourcc, size).
    fn boxes(data: &[u8]) -> Vec<(String, usize)> {
        let mut out = Vec::new();
        let mut at = 0;
        while at + 8 <= data.len() {
            let size = u32::from_be_bytes(data[at..at + 4].try_into().unwrap()) as usize;
            out.push((
                String::from_utf8_lossy(&data[at + 4..at + 8]).into_owned(),
                size,
            ));
            assert!(size >= 8, "box at {at} has size {size}");
            at += size;
        }
        assert_eq!(at, data.len(), "boxes must tile the buffer exactly");
        out
    }

    #[test]
    fn media_segment_points_at_its_sample() {
        let data = [0, 0, 0, 2, 0x65, 0x88];
        let seg = media_segment(7, 1_795_557_600_123_456, 100_000, true, &data);
        let top = boxes(&seg);
        assert_eq!(
            top.iter().map(|b| b.0.as_str()).collect::<Vec<_>>(),
            ["moof", "mdat"]
        );
        // trun's data_offset (relative to moof) lands on the mdat payload.
        let trun = seg.windows(4).position(|w| w == b"trun").unwrap() - 4;
        let offset = u32::from_be_bytes(seg[trun + 16..trun + 20].try_into().unwrap()) as usize;
        assert_eq!(&seg[offset..], &data);
        let tfdt = seg.windows(4).position(|w| w == b"tfdt").unwrap() + 8;
        assert_eq!(
            u64::from_be_bytes(seg[tfdt..tfdt + 8].try_into().unwrap()),
            1_795_557_600_123_456
        );
    }

    #[test]
    fn init_segment_is_well_formed() {
        let params = VideoParams {
            rfc6381_codec: "avc1.4D401E".to_owned(),
            extra_data: vec![],
            sample_entry: b"\0\0\0\x08avc1".to_vec(),
            width: 768,
            height: 576,
        };
        let init = init_segment(&params);
        let top = boxes(&init);
        assert_eq!(
            top.iter().map(|b| b.0.as_str()).collect::<Vec<_>>(),
            ["ftyp", "moov"]
        );
        assert!(init.windows(4).any(|w| w == b"mvex"));
        assert_eq!(mime_type(&params), "video/mp4; codecs=\"avc1.4D401E\"");
    }
}
