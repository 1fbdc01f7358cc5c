//! Our decoder alone on a file: one pass, FFmpeg on one thread as in a
//! camera's decode thread, no conversion; prints frames and the CPU seconds
//! it took (the benchmark compares `ffmpeg -threads 1 -i FILE -f null -`).
//!
//! cargo run -p peregrine-engine --example decode_speed -- FILE

use std::time::Duration;

fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime, in clock ticks (100 per second on Linux).
    (ticks(11) + ticks(12)) / 100.0
}

fn main() -> anyhow::Result<()> {
    let file = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: decode_speed FILE"))?;
    let before = cpu_seconds();
    let decoded = peregrine_engine::decode::decode_file(file.as_ref(), Duration::ZERO, 0)?;
    let cpu = cpu_seconds() - before;
    println!(
        "{{\"frames\": {}, \"wall_s\": {:.3}, \"cpu_s\": {:.3}, \"width\": {}, \"height\": {}}}",
        decoded.frames, decoded.seconds, cpu, decoded.width, decoded.height
    );
    Ok(())
}
