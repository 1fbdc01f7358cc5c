//! Sentence embeddings for search: all-MiniLM-L6-v2 (int8) on ONNX Runtime,
//! mean-pooled over the tokens and L2-normalised, so the dot product of two
//! embeddings is their cosine similarity. Search uses it only for words found
//! in no table ("hatchback" → car).
//!
//! The tokenizer is BERT's uncased WordPiece, read from the model's
//! `tokenizer.json`. It is written here rather than taken from the
//! `tokenizers` crate: search embeds one or two words at a time, and this
//! is a page of code against a dependency tree that would double the
//! engine's build.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::TensorRef;

use crate::detect::environment;
use crate::error::EngineError;

const MAX_TOKENS: usize = 32;
const MAX_WORD_CHARS: usize = 100;

pub struct Embedder {
    session: Mutex<Session>,
    vocab: HashMap<String, i64>,
    cls: i64,
    sep: i64,
    unk: i64,
    pad: i64,
}

/// How the ONNX Runtime session is built: what it costs in memory and time
/// (the `embed_memory` example measures each).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionOptions {
    pub optimization: GraphOptimizationLevel,
    /// Weights re-laid out for the kernels (a copy of each).
    pub prepacking: bool,
    /// ONNX Runtime's CPU memory arena.
    pub arena: bool,
    pub intra_threads: usize,
    /// More session config entries (`optimization.disable_specified_optimizers`, …).
    pub config: Vec<(String, String)>,
}

impl Default for SessionOptions {
    fn default() -> Self {
        Self {
            optimization: GraphOptimizationLevel::All,
            prepacking: true,
            arena: false,
            intra_threads: 1,
            config: Vec::new(),
        }
    }
}

/// Loads ONNX Runtime itself (shared with the detector).
pub fn load_runtime(ort_library: &Path) -> Result<(), EngineError> {
    environment(ort_library).map(|_| ())
}

fn fail(message: impl Into<String>) -> EngineError {
    EngineError::Detector {
        message: message.into(),
    }
}

impl Embedder {
    /// Loads `model.onnx` and `tokenizer.json` from `dir`.
    pub fn load(dir: &Path, ort_library: &Path) -> Result<Self, EngineError> {
        Self::load_with(dir, ort_library, SessionOptions::default())
    }

    /// [`Embedder::load`] with a session built as `options` say.
    pub fn load_with(
        dir: &Path,
        ort_library: &Path,
        options: SessionOptions,
    ) -> Result<Self, EngineError> {
        let env = environment(ort_library)?;
        let model = dir.join("model.onnx");
        let tokenizer = dir.join("tokenizer.json");
        let text = std::fs::read_to_string(&tokenizer).map_err(|e| {
            fail(format!(
                "cannot read {}: {e}: run `npm run setup` (or set PEREGRINE_EMBEDDER)",
                tokenizer.display()
            ))
        })?;
        let vocab = read_vocab(&text).ok_or_else(|| {
            fail(format!(
                "{} has no WordPiece vocabulary",
                tokenizer.display()
            ))
        })?;
        let id = |token: &str| {
            vocab
                .get(token)
                .copied()
                .ok_or_else(|| fail(format!("the vocabulary has no {token}")))
        };
        let (cls, sep, unk, pad) = (id("[CLS]")?, id("[SEP]")?, id("[UNK]")?, id("[PAD]")?);
        let mut builder = Session::builder(env).map_err(|e| fail(e.to_string()))?;
        for (key, value) in &options.config {
            builder = builder
                .with_config_entry(key, value)
                .map_err(|e| fail(e.to_string()))?;
        }
        let session = builder
            .with_optimization_level(options.optimization)
            .map_err(|e| fail(e.to_string()))?
            .with_prepacking(options.prepacking)
            .map_err(|e| fail(e.to_string()))?
            .with_intra_threads(options.intra_threads)
            .map_err(|e| fail(e.to_string()))?
            .with_intra_op_spinning(false)
            .map_err(|e| fail(e.to_string()))?
            // One- or two-word inputs: no memory pattern to keep.
            .with_memory_pattern(false)
            .map_err(|e| fail(e.to_string()))?
            .with_execution_providers([ort::ep::CPU::default()
                .with_arena_allocator(options.arena)
                .build()])
            .map_err(|e| fail(e.to_string()))?
            .commit_from_file(&model)
            .map_err(|e| fail(format!("cannot load {}: {e}", model.display())))?;
        Ok(Self {
            session: Mutex::new(session),
            vocab,
            cls,
            sep,
            unk,
            pad,
        })
    }

    /// The unit-length embedding of `text`.
    pub fn embed(&self, text: &str) -> Result<Vec<f32>, EngineError> {
        self.embed_batch(&[text])?
            .pop()
            .ok_or_else(|| fail("no embedding"))
    }

    /// The embeddings of several texts in one run (padded to the longest),
    /// in their order: much faster per text than one at a time.
    pub fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EngineError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let tokenized: Vec<Vec<i64>> = texts.iter().map(|t| self.tokenize(t)).collect();
        let width = tokenized.iter().map(Vec::len).max().unwrap_or(0);
        let rows = texts.len();
        let mut ids = vec![self.pad; rows * width];
        let mut mask = vec![0i64; rows * width];
        for (r, row) in tokenized.iter().enumerate() {
            ids[r * width..r * width + row.len()].copy_from_slice(row);
            mask[r * width..r * width + row.len()].fill(1);
        }
        let types = vec![0i64; rows * width];
        let err = |e: ort::Error| fail(e.to_string());
        let shape = [rows, width];
        let mut session = self.session.lock().map_err(|_| fail("embedder poisoned"))?;
        let outputs = session
            .run(ort::inputs![
                "input_ids" => TensorRef::from_array_view((shape, ids.as_slice())).map_err(err)?,
                "attention_mask" => TensorRef::from_array_view((shape, mask.as_slice())).map_err(err)?,
                "token_type_ids" => TensorRef::from_array_view((shape, types.as_slice())).map_err(err)?,
            ])
            .map_err(err)?;
        let (shape, hidden) = outputs[0].try_extract_tensor::<f32>().map_err(err)?;
        let dim = *shape.last().unwrap_or(&0) as usize;
        if dim == 0 || hidden.len() != rows * width * dim {
            return Err(fail("unexpected embedding shape"));
        }
        let mut out = Vec::with_capacity(rows);
        for (r, row) in tokenized.iter().enumerate() {
            let n = row.len();
            let mut pooled = vec![0f32; dim];
            let tokens = &hidden[r * width * dim..(r * width + n) * dim];
            for token in tokens.chunks_exact(dim) {
                for (sum, v) in pooled.iter_mut().zip(token) {
                    *sum += v / n as f32;
                }
            }
            let norm = pooled.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
            pooled.iter_mut().for_each(|v| *v /= norm);
            out.push(pooled);
        }
        Ok(out)
    }

    /// `[CLS]` word pieces `[SEP]`, at most [`MAX_TOKENS`].
    fn tokenize(&self, text: &str) -> Vec<i64> {
        let mut ids = vec![self.cls];
        for word in pre_tokenize(text) {
            self.word_pieces(&word, &mut ids);
            if ids.len() >= MAX_TOKENS - 1 {
                ids.truncate(MAX_TOKENS - 1);
                break;
            }
        }
        ids.push(self.sep);
        ids
    }

    /// Greedy longest-match-first WordPiece; a word that cannot be split is `[UNK]`.
    fn word_pieces(&self, word: &str, out: &mut Vec<i64>) {
        let chars: Vec<char> = word.chars().collect();
        if chars.len() > MAX_WORD_CHARS {
            out.push(self.unk);
            return;
        }
        let mut pieces = Vec::new();
        let mut start = 0;
        while start < chars.len() {
            let mut end = chars.len();
            let found = loop {
                if end == start {
                    break None;
                }
                let piece: String = chars[start..end].iter().collect();
                let piece = if start > 0 {
                    format!("##{piece}")
                } else {
                    piece
                };
                if let Some(id) = self.vocab.get(&piece) {
                    break Some(*id);
                }
                end -= 1;
            };
            match found {
                Some(id) => pieces.push(id),
                None => {
                    out.push(self.unk);
                    return;
                }
            }
            start = end;
        }
        out.extend(pieces);
    }
}

/// Lower case, split on white space and around punctuation (BERT's basic tokenizer).
fn pre_tokenize(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    for c in text.to_lowercase().chars() {
        if c.is_whitespace() || c.is_control() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
        } else if c.is_ascii_punctuation() || (!c.is_alphanumeric() && !c.is_whitespace()) {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            words.push(c.to_string());
        } else {
            current.push(c);
        }
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// `model.vocab` of a `tokenizer.json`.
fn read_vocab(json: &str) -> Option<HashMap<String, i64>> {
    let value: serde_json::Value = serde_json::from_str(json).ok()?;
    let vocab = value.get("model")?.get("vocab")?.as_object()?;
    Some(
        vocab
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), v.as_i64()?)))
            .collect(),
    )
}

/// Cosine similarity of two unit vectors.
pub fn similarity(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}
