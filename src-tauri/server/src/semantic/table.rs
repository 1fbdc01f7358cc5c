//! The table of guesses made once at set-up, beside the model: for every
//! word of the word list that is no inflection of another (33 000 of
//! `wamerican`'s 64 000 lower-case words), its nearest class and colour
//! with their similarity, margin and similarities alone, and its vector
//! alone (int8, for camera and zone names). A word that alone comes nowhere
//! near any class (colour) is not placed in that phrase, and scores 0 there
//! ([`PHRASE_FLOOR`]). Inflections are looked up by their base
//! ("scooters" → "scooter", `Dictionary::base_of`).
//!
//! `words.tsv` is text: a key line, the terms, then one word a line, sorted.
//! `words.vec` holds the vectors, one row per word in the same order: a
//! little-endian f32 scale, then the int8 values. The key is a SHA-256 of
//! the model, its tokenizer, the word list, the table words, phrases and
//! floors, and this format: a table made from anything else is not used, and making it
//! again with nothing changed does nothing.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use peregrine_engine::embed::{Embedder, SessionOptions};
use peregrine_engine::EngineError;
use peregrine_store::search::{known_terms, Dictionary, Term};
use sha2::{Digest, Sha256};

use super::{forms, Centroids, Guess, PHRASE_FLOOR};

pub const TABLE_FILE: &str = "words.tsv";
const VECTOR_FILE: &str = "words.vec";
const FORMAT: &str = "peregrine words table 2";
/// Words embedded per run while making the table.
const BATCH: usize = 64;
/// Sessions at once while making the table (each holds the model).
const MAX_THREADS: usize = 4;

#[derive(Clone, Copy, Debug)]
struct Scored {
    term: u16,
    similarity: f32,
    margin: f32,
    alone: f32,
    nearest: f32,
}

pub(crate) struct Table {
    terms: Vec<Term>,
    text: String,
    /// Each word's span in `text`, sorted by word.
    spans: Vec<(u32, u32)>,
    /// Nearest class, nearest colour, per word.
    scores: Vec<[Scored; 2]>,
    vectors: File,
    dim: usize,
}

fn hash_file(hasher: &mut Sha256, path: &Path) -> io::Result<()> {
    let mut file = File::open(path)?;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        hasher.update(&buf[..n]);
    }
}

/// What the table is made from, hashed.
fn key(dir: &Path, words: &Path) -> io::Result<String> {
    let mut hasher = Sha256::new();
    hasher.update(FORMAT.as_bytes());
    for file in [dir.join("model.onnx"), dir.join("tokenizer.json")] {
        hash_file(&mut hasher, &file)?;
    }
    hash_file(&mut hasher, words)?;
    for (word, term) in known_terms() {
        hasher.update(format!("{word}\t{}\n", term_label(&term)).as_bytes());
    }
    hasher.update(forms("{}").join("\n").as_bytes());
    hasher.update(format!("{PHRASE_FLOOR:?}").as_bytes());
    Ok(hasher.finalize().iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    }))
}

fn term_label(term: &Term) -> String {
    match term {
        Term::Class(c) => format!("class:{c}"),
        Term::Color(c) => format!("color:{c}"),
        Term::Camera(id, name) => format!("camera:{id}:{name}"),
        Term::Zone(z) => format!("zone:{z}"),
    }
}

fn parse_term(label: &str) -> Option<Term> {
    let (kind, name) = label.split_once(':')?;
    match kind {
        "class" => Some(Term::Class(name.to_owned())),
        "color" => Some(Term::Color(name.to_owned())),
        _ => None,
    }
}

impl Table {
    /// The table in `dir`, if it was made from this model and word list.
    pub(crate) fn open(dir: &Path, words: &Path) -> Result<Self, String> {
        let path = dir.join(TABLE_FILE);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let want = key(dir, words).map_err(|e| format!("cannot hash what it is made from: {e}"))?;
        let mut lines = text.lines();
        let header = lines.next().unwrap_or_default();
        let fields: Vec<&str> = header.split('\t').collect();
        if fields.first() != Some(&FORMAT) || fields.get(1) != Some(&want.as_str()) {
            return Err(format!(
                "{} was made from another model, word list or table",
                path.display()
            ));
        }
        let dim: usize = fields
            .get(2)
            .and_then(|d| d.parse().ok())
            .ok_or("no dimension")?;
        let terms: Vec<Term> = lines
            .next()
            .unwrap_or_default()
            .split('\t')
            .map(|l| parse_term(l).ok_or_else(|| format!("bad term {l}")))
            .collect::<Result<_, _>>()?;
        let mut table = Self {
            terms,
            text: String::new(),
            spans: Vec::new(),
            scores: Vec::new(),
            vectors: File::open(dir.join(VECTOR_FILE))
                .map_err(|e| format!("cannot open {VECTOR_FILE}: {e}"))?,
            dim,
        };
        for (n, line) in lines.enumerate() {
            let bad = || format!("{}: line {} is malformed", path.display(), n + 3);
            let mut f = line.split('\t');
            let word = f.next().ok_or_else(bad)?;
            let mut scored = || -> Option<Scored> {
                let term: u16 = f.next()?.parse().ok()?;
                let mut num = || f.next()?.parse::<f32>().ok();
                let s = Scored {
                    term,
                    similarity: num()?,
                    margin: num()?,
                    alone: num()?,
                    nearest: num()?,
                };
                (usize::from(s.term) < table.terms.len()).then_some(s)
            };
            let class = scored().ok_or_else(bad)?;
            let color = scored().ok_or_else(bad)?;
            let start = table.text.len() as u32;
            table.text.push_str(word);
            table.spans.push((start, table.text.len() as u32));
            table.scores.push([class, color]);
        }
        let expected = (table.spans.len() * (4 + dim)) as u64;
        let size = table.vectors.metadata().map_err(|e| e.to_string())?.len();
        if size != expected {
            return Err(format!("{VECTOR_FILE} holds {size} bytes, not {expected}"));
        }
        table.text.shrink_to_fit();
        Ok(table)
    }

    pub(crate) fn len(&self) -> usize {
        self.spans.len()
    }

    fn word(&self, row: usize) -> &str {
        let (s, e) = self.spans[row];
        &self.text[s as usize..e as usize]
    }

    /// The row of a base word.
    pub(crate) fn row(&self, word: &str) -> Option<usize> {
        self.spans
            .binary_search_by(|&(s, e)| self.text[s as usize..e as usize].cmp(word))
            .ok()
    }

    pub(crate) fn guesses(&self, row: usize) -> Vec<Guess> {
        self.scores[row]
            .iter()
            .map(|s| Guess {
                term: self.terms[usize::from(s.term)].clone(),
                similarity: s.similarity,
                margin: s.margin,
                alone: s.alone,
                nearest: s.nearest,
            })
            .collect()
    }

    /// The word's vector alone (unit length, from int8).
    pub(crate) fn vector(&self, row: usize) -> Option<Vec<f32>> {
        let width = 4 + self.dim;
        let mut buf = vec![0u8; width];
        self.vectors
            .read_exact_at(&mut buf, (row * width) as u64)
            .ok()?;
        let scale = f32::from_le_bytes(buf[..4].try_into().ok()?);
        let mut v: Vec<f32> = buf[4..]
            .iter()
            .map(|&b| f32::from(b as i8) * scale)
            .collect();
        super::normalise(&mut v);
        Some(v)
    }
}

type Scores = [(usize, f32, f32, f32, f32); 2];

/// One run's words (indexes into `bases`): each one's scores and vector alone.
fn place(
    embedder: &Embedder,
    centroids: &Centroids,
    bases: &[&str],
    chunk: &[usize],
) -> Result<Vec<(usize, Scores, Vec<f32>)>, EngineError> {
    let texts: Vec<[String; 3]> = chunk.iter().map(|&k| forms(bases[k])).collect();
    let refs: Vec<&str> = texts.iter().map(|[_, _, w]| w.as_str()).collect();
    let vectors = embedder.embed_batch(&refs)?;
    // In a phrase only where it could pass (most words come nowhere near).
    let mut phrases: [Vec<(usize, &str)>; 2] = [Vec::new(), Vec::new()];
    for (i, &k) in chunk.iter().enumerate() {
        let (class, color) = centroids.reach(bases[k], &vectors[i]);
        if class >= PHRASE_FLOOR.0 {
            phrases[0].push((i, texts[i][0].as_str()));
        }
        if color >= PHRASE_FLOOR.1 {
            phrases[1].push((i, texts[i][1].as_str()));
        }
    }
    let mut placed = vec![[None, None]; chunk.len()];
    for (side, list) in phrases.iter().enumerate() {
        let refs: Vec<&str> = list.iter().map(|(_, t)| *t).collect();
        for ((i, _), v) in list.iter().zip(embedder.embed_batch(&refs)?) {
            placed[*i][side] = Some(v);
        }
    }
    let nowhere = vec![0f32; vectors.first().map_or(0, Vec::len)];
    Ok(chunk
        .iter()
        .zip(vectors)
        .zip(placed)
        .map(|((&k, v), [class, color])| {
            let scores = centroids.score(
                bases[k],
                class.as_deref().unwrap_or(&nowhere),
                color.as_deref().unwrap_or(&nowhere),
                &v,
            );
            (k, scores, v)
        })
        .collect())
}

/// What [`build_table`] did.
#[derive(Debug)]
pub struct TableBuilt {
    pub path: PathBuf,
    pub words: usize,
    /// False when the table was already up to date.
    pub made: bool,
    pub seconds: f64,
}

/// Makes the table in `dir` (the model's) from the word list at `words`,
/// with `threads` threads (at most four), unless an up-to-date one is there.
pub fn build_table(
    dir: &Path,
    ort_library: &Path,
    words: &Path,
    threads: usize,
) -> anyhow::Result<TableBuilt> {
    let started = Instant::now();
    let path = dir.join(TABLE_FILE);
    let dictionary =
        Dictionary::load(words).with_context(|| format!("word list {}", words.display()))?;
    anyhow::ensure!(!dictionary.is_empty(), "{} holds no words", words.display());
    if let Ok(table) = Table::open(dir, words) {
        return Ok(TableBuilt {
            path,
            words: table.len(),
            made: false,
            seconds: started.elapsed().as_secs_f64(),
        });
    }
    let key = key(dir, words).context("hashing the model and word list")?;
    // One session per thread (each about 160 MB while this runs): runs of
    // a few short phrases do not spread well over one session's threads.
    let embedders = (0..threads.clamp(1, MAX_THREADS))
        .map(|_| Embedder::load_with(dir, ort_library, SessionOptions::default()))
        .collect::<Result<Vec<_>, _>>()?;
    let centroids = Centroids::compute(|texts| embedders[0].embed_batch(texts))?;
    let bases: Vec<&str> = dictionary.base_words().collect();
    // Similar lengths together: less padding in each run.
    let mut order: Vec<usize> = (0..bases.len()).collect();
    order.sort_by_key(|&k| (bases[k].len(), k));
    let chunks: Vec<&[usize]> = order.chunks(BATCH).collect();
    let workers = embedders.len();
    let placed = std::thread::scope(|s| {
        let running: Vec<_> = embedders
            .iter()
            .enumerate()
            .map(|(t, embedder)| {
                let (chunks, bases, centroids) = (&chunks, &bases, &centroids);
                s.spawn(move || {
                    let mut out = Vec::new();
                    for chunk in chunks.iter().skip(t).step_by(workers) {
                        out.extend(place(embedder, centroids, bases, chunk)?);
                    }
                    Ok::<_, EngineError>(out)
                })
            })
            .collect();
        running
            .into_iter()
            .map(|w| {
                w.join()
                    .map_err(|_| anyhow::anyhow!("a worker panicked"))?
                    .map_err(anyhow::Error::from)
            })
            .collect::<anyhow::Result<Vec<_>>>()
    })?;
    let mut scores = vec![[(0usize, 0f32, 0f32, 0f32, 0f32); 2]; bases.len()];
    let mut alone: Vec<Vec<f32>> = vec![Vec::new(); bases.len()];
    for (k, score, v) in placed.into_iter().flatten() {
        scores[k] = score;
        alone[k] = v;
    }
    let dim = alone.first().map_or(0, Vec::len);
    let tmp_vec = dir.join(format!("{VECTOR_FILE}.tmp"));
    let tmp_table = dir.join(format!("{TABLE_FILE}.tmp"));
    let mut out = BufWriter::new(File::create(&tmp_vec)?);
    for v in &alone {
        let max = v.iter().fold(0f32, |m, x| m.max(x.abs())).max(1e-12);
        let scale = max / 127.0;
        out.write_all(&scale.to_le_bytes())?;
        let row: Vec<u8> = v
            .iter()
            .map(|x| (x / scale).round().clamp(-127.0, 127.0) as i8 as u8)
            .collect();
        out.write_all(&row)?;
    }
    out.into_inner()?.sync_all()?;
    let mut out = BufWriter::new(File::create(&tmp_table)?);
    writeln!(out, "{FORMAT}\t{key}\t{dim}")?;
    let labels: Vec<String> = centroids.terms().iter().map(term_label).collect();
    writeln!(out, "{}", labels.join("\t"))?;
    for (word, pair) in bases.iter().zip(&scores) {
        write!(out, "{word}")?;
        for (term, similarity, margin, alone, nearest) in pair {
            write!(
                out,
                "\t{term}\t{similarity:.4}\t{margin:.4}\t{alone:.4}\t{nearest:.4}"
            )?;
        }
        writeln!(out)?;
    }
    out.into_inner()?.sync_all()?;
    // The vectors first: a table file names a complete set.
    std::fs::rename(&tmp_vec, dir.join(VECTOR_FILE))?;
    std::fs::rename(&tmp_table, &path)?;
    let table = Table::open(dir, words).map_err(anyhow::Error::msg)?;
    anyhow::ensure!(table.word(0) == bases[0], "the table reads back wrong");
    Ok(TableBuilt {
        path,
        words: table.len(),
        made: true,
        seconds: started.elapsed().as_secs_f64(),
    })
}
