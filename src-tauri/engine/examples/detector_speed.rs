//! The detector alone: inferences per second on one frame of the footage,
//! with the same session settings as the pipeline (the reference the
//! pipeline's detection rate is compared with).
//!
//! cargo run --release -p peregrine-engine --example detector_speed -- MODEL ORT_LIB FRAME.bgr [N]
//! (FRAME.bgr: 416×416 BGR24, e.g. from `ffmpeg -i clip -frames:v 1 -vf scale=416:416 -pix_fmt bgr24 -f rawvideo`)

use std::time::Instant;

use peregrine_engine::detect::{DetectorConfig, NanoDet};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [model, ort, frame, rest @ ..] = args.as_slice() else {
        anyhow::bail!("usage: detector_speed MODEL ORT_LIB FRAME.bgr [N]");
    };
    let n: usize = rest.first().map(|s| s.parse()).transpose()?.unwrap_or(50);
    let bgr = std::fs::read(frame)?;
    let mut config = DetectorConfig::new(model.into(), ort.into());
    if let Ok(threads) = std::env::var("PEREGRINE_DETECTOR_THREADS") {
        config.intra_threads = threads.parse()?;
    }
    let mut detector = NanoDet::load(&config)?;
    for _ in 0..5 {
        detector.detect(&bgr)?;
    }
    let started = Instant::now();
    let mut found = 0;
    for _ in 0..n {
        found = detector.detect(&bgr)?.len();
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{{\"threads\": {}, \"inferences\": {n}, \"mean_ms\": {:.2}, \"per_second\": {:.2}, \"detections\": {found}}}",
        config.intra_threads,
        secs * 1000.0 / n as f64,
        n as f64 / secs
    );
    Ok(())
}
