//! "Measure this machine": how fast this workstation decodes the bundled
//! footage and runs the detector (one thread, and two where there are two
//! cores), so the console can say how many cameras it will handle and at
//! what detection rate. Blocking: run it on a blocking thread.

use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::decode::decode_file;
use crate::detect::{DetectorConfig, NanoDet};
use crate::error::EngineError;

/// Frames sampled for the detector, as at 5 of a 10 fps camera's frames.
const SAMPLE_EVERY: u64 = 2;

#[derive(Clone, Debug, Serialize)]
pub struct MachineSpeed {
    pub cores: usize,
    /// Frames per second one core decodes, at `width`×`height`.
    pub decode_fps: f64,
    pub width: u32,
    pub height: u32,
    /// Milliseconds per inference with one intra-op thread.
    pub inference_ms_1_thread: f64,
    /// With two threads (only measured on machines with two cores or more).
    pub inference_ms_2_threads: Option<f64>,
}

/// Spends about `budget` (split between decode and detection) measuring.
pub fn measure_machine(
    footage: &Path,
    detector: &DetectorConfig,
    budget: Duration,
) -> Result<MachineSpeed, EngineError> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let decoded = decode_file(footage, budget / 3, SAMPLE_EVERY)?;
    if decoded.frames == 0 || decoded.detector_input.is_empty() {
        return Err(EngineError::Decode {
            message: format!("{} gave no pictures to measure with", footage.display()),
        });
    }
    let detect_budget = if cores >= 2 {
        budget / 3
    } else {
        budget * 2 / 3
    };
    let one = inference_ms(detector, 1, &decoded.detector_input, detect_budget)?;
    let two = if cores >= 2 {
        Some(inference_ms(
            detector,
            2,
            &decoded.detector_input,
            detect_budget,
        )?)
    } else {
        None
    };
    Ok(MachineSpeed {
        cores,
        decode_fps: decoded.frames as f64 / decoded.seconds.max(1e-6),
        width: decoded.width,
        height: decoded.height,
        inference_ms_1_thread: one,
        inference_ms_2_threads: two,
    })
}

fn inference_ms(
    config: &DetectorConfig,
    threads: usize,
    bgr: &[u8],
    budget: Duration,
) -> Result<f64, EngineError> {
    let mut config = config.clone();
    config.intra_threads = threads;
    let mut detector = NanoDet::load(&config)?;
    detector.detect(bgr)?; // warm-up
    let started = Instant::now();
    let mut runs = 0u32;
    while started.elapsed() < budget || runs < 3 {
        detector.detect(bgr)?;
        runs += 1;
    }
    Ok(started.elapsed().as_secs_f64() * 1000.0 / f64::from(runs))
}
