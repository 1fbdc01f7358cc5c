//! What the search's embedding model costs in memory and time, for one set
//! of ONNX Runtime session options (run once per set: RSS never shrinks).
//!
//!   cargo run --release -p peregrine-engine --example embed_memory -- \
//!       [--opt disable|basic|extended|layout|all] [--prepack on|off] \
//!       [--arena on|off] [--threads N] [--words N] [--config key=value]… \
//!       [--batch N]
//!
//! Prints the resident set (VmRSS, and its peak VmHWM, from
//! /proc/self/status) after loading ONNX Runtime, after building the
//! session, after the first word and after the rest, and the time per word
//! (three embeddings, as search asks: the class phrase, the colour phrase
//! and the word alone). Model and runtime as setup fetched them
//! (`$PEREGRINE_EMBEDDER`, `$ORT_DYLIB_PATH`).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context};
use ort::session::builder::GraphOptimizationLevel;
use peregrine_engine::embed::{load_runtime, Embedder, SessionOptions};

const WORDS: &[&str] = &[
    "scooter",
    "juvenile",
    "toddler",
    "teenager",
    "limousine",
    "minivan",
    "bicyclist",
    "scarlet",
    "crimson",
    "indigo",
    "quickly",
    "because",
    "window",
    "hatchback",
    "drop",
    "playing",
    "theory",
    "justice",
    "music",
    "honest",
    "seldom",
    "although",
    "believe",
    "explain",
    "purpose",
    "problem",
    "question",
    "answer",
    "system",
    "method",
    "freedom",
    "energy",
    "silence",
    "memory",
    "value",
    "effort",
    "opinion",
    "reason",
    "result",
    "policy",
    "culture",
    "science",
    "nothing",
    "certain",
    "perhaps",
    "whether",
    "simple",
    "general",
    "special",
    "similar",
];

fn status(field: &str) -> f64 {
    let text = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn rss() -> f64 {
    status("VmRSS:")
}

fn cache_dir() -> PathBuf {
    std::env::var_os("PEREGRINE_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/peregrine")
        })
}

fn on_off(value: &str) -> anyhow::Result<bool> {
    match value {
        "on" => Ok(true),
        "off" => Ok(false),
        other => bail!("on or off, not {other}"),
    }
}

fn main() -> anyhow::Result<()> {
    let mut options = SessionOptions::default();
    let mut words = WORDS.len();
    let mut batch = 0usize;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--opt" => {
                options.optimization = match value.as_str() {
                    "disable" => GraphOptimizationLevel::Disable,
                    "basic" => GraphOptimizationLevel::Level1,
                    "extended" => GraphOptimizationLevel::Level2,
                    "layout" => GraphOptimizationLevel::Level3,
                    "all" => GraphOptimizationLevel::All,
                    other => bail!("unknown level {other}"),
                }
            }
            "--prepack" => options.prepacking = on_off(&value)?,
            "--arena" => options.arena = on_off(&value)?,
            "--threads" => options.intra_threads = value.parse()?,
            "--config" => {
                let (key, v) = value.split_once('=').context("--config key=value")?;
                options.config.push((key.to_owned(), v.to_owned()));
            }
            "--batch" => batch = value.parse()?,
            "--words" => words = value.parse::<usize>()?.clamp(1, WORDS.len()),
            other => bail!("unknown flag {other}"),
        }
    }
    let dir = std::env::var_os("PEREGRINE_EMBEDDER")
        .map(PathBuf::from)
        .unwrap_or_else(|| cache_dir().join("models/minilm"));
    let ort = std::env::var_os("ORT_DYLIB_PATH")
        .map(PathBuf::from)
        .unwrap_or_else(|| cache_dir().join("ort/libonnxruntime.so.1.31.1"));

    let start = rss();
    load_runtime(&ort)?;
    let runtime = rss();
    let t = Instant::now();
    let embedder = Embedder::load_with(&dir, &ort, options.clone())?;
    let load_ms = t.elapsed().as_secs_f64() * 1e3;
    let loaded = rss();
    let per_word = |word: &str| -> anyhow::Result<f64> {
        let t = Instant::now();
        for text in [
            format!("a photo of a {word}"),
            format!("the colour {word}"),
            word.to_owned(),
        ] {
            embedder.embed(&text)?;
        }
        Ok(t.elapsed().as_secs_f64() * 1e3)
    };
    let first_ms = per_word(WORDS[0])?;
    let first = rss();
    let mut times: Vec<f64> = WORDS[1..words]
        .iter()
        .map(|w| per_word(w))
        .collect::<anyhow::Result<_>>()?;
    times.sort_by(f64::total_cmp);
    let median = times.get(times.len() / 2).copied().unwrap_or(first_ms);
    let after = rss();
    if batch > 0 {
        // Throughput of batched runs (what a set-up step would see).
        let texts: Vec<String> = (0..2000)
            .map(|k| format!("a photo of a {}", WORDS[k % WORDS.len()]))
            .collect();
        let t = Instant::now();
        for chunk in texts.chunks(batch) {
            let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
            embedder.embed_batch(&refs)?;
        }
        let per = t.elapsed().as_secs_f64() * 1e3 / texts.len() as f64;
        println!(
            "  batch {batch}: {per:.2} ms per phrase over {} phrases",
            texts.len()
        );
    }
    println!(
        "{options:?}\n  rss MB: start {start:.1}, runtime +{:.1}, session +{:.1}, first word +{:.1}, {} words +{:.1}; model total +{:.1}; peak {:.1}\n  ms: load {load_ms:.0}, first word {first_ms:.1}, median word {median:.1}",
        runtime - start,
        loaded - runtime,
        first - loaded,
        words,
        after - first,
        after - runtime,
        status("VmHWM:"),
    );
    Ok(())
}
