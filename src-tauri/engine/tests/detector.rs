//! The real NanoDet-m model on a real frame of the demo footage.

use std::path::PathBuf;
use std::process::Command;

use peregrine_engine::detect::{DetectorConfig, NanoDet, INPUT_SIZE};

fn asset(var: &str, default: &str) -> PathBuf {
    std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| {
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_default();
        home.join(".cache/peregrine").join(default)
    })
}

/// One frame of the footage, resized to the model's input, as BGR24 (by the ffmpeg CLI).
fn frame_at(seconds: &str) -> Vec<u8> {
    let footage = asset("PEREGRINE_FOOTAGE", "footage/vtest.mp4");
    assert!(
        footage.is_file(),
        "footage missing at {}: run `npm run setup`",
        footage.display()
    );
    let size = format!("scale={INPUT_SIZE}:{INPUT_SIZE}");
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-ss", seconds, "-i"])
        .arg(&footage)
        .args([
            "-frames:v",
            "1",
            "-vf",
            &size,
            "-pix_fmt",
            "bgr24",
            "-f",
            "rawvideo",
            "-",
        ])
        .output()
        .expect("run ffmpeg");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout.len(), INPUT_SIZE * INPUT_SIZE * 3);
    out.stdout
}

fn model() -> NanoDet {
    let config = DetectorConfig::new(
        asset("PEREGRINE_MODEL", "models/nanodet-m.onnx"),
        asset("ORT_DYLIB_PATH", "ort/libonnxruntime.so.1.31.1"),
    );
    NanoDet::load(&config).expect("model loads: run `npm run setup` if it is missing")
}

#[test]
fn finds_the_people_on_the_plaza() {
    let mut model = model();
    let found = model.detect(&frame_at("5")).expect("inference");
    let people: Vec<_> = found
        .iter()
        .filter(|d| d.class == "person" && d.score >= 0.5)
        .collect();
    eprintln!(
        "{} detections, {} people: {people:?}",
        found.len(),
        people.len()
    );
    assert!(
        people.len() >= 3,
        "expected several people on the plaza, got {found:?}"
    );
    for d in &found {
        let b = d.bbox;
        assert!(
            b.x >= 0.0 && b.y >= 0.0 && b.x + b.w <= 1.0001 && b.y + b.h <= 1.0001,
            "{d:?}"
        );
        // People in this footage are small and upright.
        if d.class == "person" {
            assert!(b.h > b.w * 0.8 && b.h < 0.6, "implausible person box {d:?}");
        }
    }
}

#[test]
fn a_blank_frame_has_no_detections() {
    let mut model = model();
    let grey = vec![128u8; INPUT_SIZE * INPUT_SIZE * 3];
    let found = model.detect(&grey).expect("inference");
    assert!(found.is_empty(), "{found:?}");
}

#[test]
fn a_missing_model_says_what_to_do() {
    let config = DetectorConfig::new(
        PathBuf::from("/nonexistent/nanodet.onnx"),
        asset("ORT_DYLIB_PATH", "ort/libonnxruntime.so.1.31.1"),
    );
    let err = NanoDet::load(&config).err().expect("must fail").to_string();
    assert!(err.contains("npm run setup"), "{err}");
}
