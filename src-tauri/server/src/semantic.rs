//! The search's semantic fallback. A word found in no table, and found in
//! the English word list (the parser keeps everything else away from here,
//! see `peregrine_store::search::screen`), is compared with every known
//! class and colour word and with the installation's camera and zone
//! names; the nearest wins when it is close enough.
//!
//! The comparing was done once, at set-up, for every word of the word list
//! (`cargo run -p peregrine-server --example semantic_table`, see
//! [`table`]): the table beside the model holds each word's nearest class
//! and colour and its vector, so search answers from it without loading
//! the model (which costs about 160 MB of memory). Without a table, or with
//! one made from another model or word list, the model is loaded on first
//! use and asked instead, as the log says.

mod table;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use peregrine_engine::embed::{similarity, Embedder};
use peregrine_engine::EngineError;
use peregrine_store::search::{known_terms, Dictionary, Semantic, Term, Vocabulary};
use tracing::{info, warn};

pub use table::{build_table, TableBuilt, TABLE_FILE};

/// What a guess needs, tuned on words left out of the tables and on lists
/// of ordinary words and non-words (see the tests and `tests/search/`).
/// Single words embed weakly, so each is compared inside a phrase ("a photo
/// of a scooter", "the colour scarlet") against the centroid of every
/// table word of a term in the same phrase: the nearest class must be at
/// least [`CLASS_MIN`] near and [`CLASS_MARGIN`] ahead of the next. A
/// phrase flatters abstract words ("a photo of a certain" is near "a photo
/// of a person"), so the word alone must also be at least
/// [`CLASS_NEAREST_MIN`] near one of the term's words alone ("toddler" is
/// near "child", "question" near no person word). Colours: the phrase as
/// for classes, and the word alone at least [`COLOR_ALONE_MIN`] near the
/// centroid of the colour's words alone. A camera or zone name, compared
/// with the word alone: at least [`NAME_MIN`].
pub const CLASS_MIN: f32 = 0.6;
pub const CLASS_MARGIN: f32 = 0.055;
pub const CLASS_NEAREST_MIN: f32 = 0.56;
pub const COLOR_MIN: f32 = 0.74;
pub const COLOR_MARGIN: f32 = 0.025;
pub const COLOR_ALONE_MIN: f32 = 0.5;
pub const NAME_MIN: f32 = 0.6;
/// The table places a word in the class (colour) phrase only when alone it
/// comes at least this near a class word (a colour): below
/// [`CLASS_NEAREST_MIN`] and [`COLOR_ALONE_MIN`], so nothing that could
/// pass is skipped, and thresholds can still be lowered a little without
/// making the table again.
pub const PHRASE_FLOOR: (f32, f32) = (0.45, 0.4);
const _: () = assert!(PHRASE_FLOOR.0 <= CLASS_NEAREST_MIN && PHRASE_FLOOR.1 <= COLOR_ALONE_MIN);
const CACHE_LIMIT: usize = 10_000;
/// The English word list (Debian's `wamerican`) when `$PEREGRINE_WORDS`
/// does not name one.
pub const DEFAULT_WORDS: &str = "/usr/share/dict/american-english";

/// `$PEREGRINE_WORDS`, else [`DEFAULT_WORDS`].
pub fn words_path() -> PathBuf {
    std::env::var_os("PEREGRINE_WORDS")
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from(DEFAULT_WORDS), PathBuf::from)
}

/// The word list, or an empty one (logged: then no word is guessed at).
fn load_words(path: &Path) -> Dictionary {
    match Dictionary::load(path) {
        Ok(words) if !words.is_empty() => {
            info!(path = %path.display(), words = words.len(), "search: word list loaded");
            words
        }
        Ok(_) => {
            warn!(path = %path.display(), "search: the word list is empty: words outside the tables stay unknown (install wamerican or set PEREGRINE_WORDS)");
            Dictionary::default()
        }
        Err(e) => {
            warn!(path = %path.display(), error = %e, "search: no word list: words outside the tables stay unknown (install wamerican or set PEREGRINE_WORDS)");
            Dictionary::default()
        }
    }
}

/// The texts a word is embedded as: in the class phrase, in the colour
/// phrase, alone.
pub(crate) fn forms(word: &str) -> [String; 3] {
    [
        format!("a photo of a {word}"),
        format!("the colour {word}"),
        word.to_owned(),
    ]
}

fn is_color(term: &Term) -> bool {
    matches!(term, Term::Color(_))
}

/// The nearest term of one kind: how near, how far ahead of the next, how
/// near the word alone is to the term's words alone (their centroid), and
/// to the nearest of them.
#[derive(Clone, Debug, PartialEq)]
pub struct Guess {
    pub term: Term,
    pub similarity: f32,
    pub margin: f32,
    pub alone: f32,
    pub nearest: f32,
}

impl Guess {
    /// Close enough to be a chip.
    pub fn accepted(&self) -> bool {
        match self.term {
            Term::Class(_) => {
                self.similarity >= CLASS_MIN
                    && self.margin >= CLASS_MARGIN
                    && self.nearest >= CLASS_NEAREST_MIN
            }
            Term::Color(_) => {
                self.similarity >= COLOR_MIN
                    && self.margin >= COLOR_MARGIN
                    && self.alone >= COLOR_ALONE_MIN
            }
            Term::Camera(..) | Term::Zone(_) => self.similarity >= NAME_MIN,
        }
    }
}

/// Per class and per colour, the centroid of its table words' vectors,
/// in its phrase and alone, and each word's vector alone.
pub(crate) struct Centroids {
    terms: Vec<Term>,
    phrase: Vec<Vec<f32>>,
    alone: Vec<Vec<f32>>,
    words: Vec<Vec<(String, Vec<f32>)>>,
}

fn normalise(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    v.iter_mut().for_each(|x| *x /= norm);
}

impl Centroids {
    pub(crate) fn compute(
        mut embed: impl FnMut(&[&str]) -> Result<Vec<Vec<f32>>, EngineError>,
    ) -> Result<Self, EngineError> {
        let known: Vec<(&str, Term)> = known_terms().collect();
        let mut c = Self {
            terms: Vec::new(),
            phrase: Vec::new(),
            alone: Vec::new(),
            words: Vec::new(),
        };
        for chunk in known.chunks(64) {
            let texts: Vec<String> = chunk
                .iter()
                .flat_map(|(word, term)| {
                    let [class, color, alone] = forms(word);
                    [if is_color(term) { color } else { class }, alone]
                })
                .collect();
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            let vectors = embed(&refs)?;
            for ((word, term), pair) in chunk.iter().zip(vectors.chunks_exact(2)) {
                let k = match c.terms.iter().position(|t| t == term) {
                    Some(k) => k,
                    None => {
                        c.terms.push(term.clone());
                        c.phrase.push(vec![0.0; pair[0].len()]);
                        c.alone.push(vec![0.0; pair[1].len()]);
                        c.words.push(Vec::new());
                        c.terms.len() - 1
                    }
                };
                c.phrase[k]
                    .iter_mut()
                    .zip(&pair[0])
                    .for_each(|(a, b)| *a += b);
                c.alone[k]
                    .iter_mut()
                    .zip(&pair[1])
                    .for_each(|(a, b)| *a += b);
                c.words[k].push(((*word).to_owned(), pair[1].clone()));
            }
        }
        c.phrase.iter_mut().for_each(|v| normalise(v));
        c.alone.iter_mut().for_each(|v| normalise(v));
        Ok(c)
    }

    pub(crate) fn terms(&self) -> &[Term] {
        &self.terms
    }

    /// How near a word alone comes to any class (its nearest class word)
    /// and to any colour (a colour's centroid): a bound on what [`score`]
    /// can find, so the table need not place words in phrases that could
    /// never pass ([`PHRASE_FLOOR`]).
    ///
    /// [`score`]: Centroids::score
    pub(crate) fn reach(&self, word: &str, alone: &[f32]) -> (f32, f32) {
        let (mut class, mut color) = (-1f32, -1f32);
        for (k, term) in self.terms.iter().enumerate() {
            if is_color(term) {
                color = color.max(similarity(alone, &self.alone[k]));
            } else {
                for (w, v) in &self.words[k] {
                    if !(w.len() > word.len() && w.contains(word)) {
                        class = class.max(similarity(alone, v));
                    }
                }
            }
        }
        (class, color)
    }

    /// The nearest class (index into [`Centroids::terms`], similarity,
    /// margin, alone, nearest) to a word's vectors, then the nearest colour.
    /// A table word that merely contains `word` is no neighbour of it
    /// ("pick" is not near "pickup", nor "control" near "remote control").
    pub(crate) fn score(
        &self,
        word: &str,
        class_phrase: &[f32],
        color_phrase: &[f32],
        alone: &[f32],
    ) -> [(usize, f32, f32, f32, f32); 2] {
        [false, true].map(|colors| {
            let v = if colors { color_phrase } else { class_phrase };
            let (mut best, mut second) = ((0, f32::MIN), f32::MIN);
            for (k, term) in self.terms.iter().enumerate() {
                if is_color(term) != colors {
                    continue;
                }
                let s = similarity(v, &self.phrase[k]);
                if s > best.1 {
                    second = best.1;
                    best = (k, s);
                } else if s > second {
                    second = s;
                }
            }
            let margin = best.1 - if second == f32::MIN { 0.0 } else { second };
            let nearest = self.words[best.0]
                .iter()
                .filter(|(w, _)| !(w.len() > word.len() && w.contains(word)))
                .map(|(_, v)| similarity(alone, v))
                .fold(-1.0, f32::max);
            (
                best.0,
                best.1,
                margin,
                similarity(alone, &self.alone[best.0]),
                nearest,
            )
        })
    }
}

pub struct SemanticTerms {
    dir: PathBuf,
    ort_library: PathBuf,
    /// Only its words are guessed at.
    words: Dictionary,
    /// Made at set-up: when present, the model is never loaded.
    table: Option<table::Table>,
    /// Without a table: loaded on the first word that needs it.
    embedder: OnceLock<Option<Embedder>>,
    centroids: OnceLock<Option<Centroids>>,
    /// Vectors already computed: of texts (model) or of names (table).
    cache: Mutex<HashMap<String, Vec<f32>>>,
}

impl SemanticTerms {
    /// `None` (logged) when the model's files are missing: search then
    /// reports unmapped words as unknown.
    pub fn load(dir: &Path, ort_library: &Path) -> Option<Self> {
        let present = ["model.onnx", "tokenizer.json"]
            .iter()
            .all(|f| dir.join(f).is_file());
        if !present {
            warn!(dir = %dir.display(), "search: no semantic fallback (model not found: run npm run setup); words outside the tables stay unknown");
            return None;
        }
        let words_path = words_path();
        let words = load_words(&words_path);
        let table = match table::Table::open(dir, &words_path) {
            Ok(table) => {
                info!(path = %dir.join(TABLE_FILE).display(), words = table.len(), "search: word table loaded; the model stays unloaded");
                Some(table)
            }
            Err(why) => {
                warn!(dir = %dir.display(), %why, "search: no word table (scripts/setup.sh makes it): the model is loaded on the first word outside the tables, about 160 MB");
                None
            }
        };
        Some(Self {
            dir: dir.to_owned(),
            ort_library: ort_library.to_owned(),
            words,
            table,
            embedder: OnceLock::new(),
            centroids: OnceLock::new(),
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// Whether answers come from the set-up table (else from the model).
    pub fn has_table(&self) -> bool {
        self.table.is_some()
    }

    fn embedder(&self) -> Option<&Embedder> {
        self.embedder
            .get_or_init(|| match Embedder::load(&self.dir, &self.ort_library) {
                Ok(embedder) => {
                    info!(dir = %self.dir.display(), "search: semantic model loaded");
                    Some(embedder)
                }
                Err(e) => {
                    warn!(error = %e, "search: cannot load the semantic model");
                    None
                }
            })
            .as_ref()
    }

    fn remember(&self, key: &str, vector: &[f32]) {
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= CACHE_LIMIT {
                cache.clear();
            }
            cache.insert(key.to_owned(), vector.to_vec());
        }
    }

    fn cached(&self, key: &str) -> Option<Vec<f32>> {
        self.cache.lock().ok()?.get(key).cloned()
    }

    /// The model's vector of `text`.
    fn embed(&self, text: &str) -> Option<Vec<f32>> {
        if let Some(hit) = self.cached(text) {
            return Some(hit);
        }
        let embedding = self.embedder()?.embed(text).ok()?;
        self.remember(text, &embedding);
        Some(embedding)
    }

    fn centroids(&self) -> Option<&Centroids> {
        self.centroids
            .get_or_init(|| {
                let embedder = self.embedder()?;
                Centroids::compute(|texts| embedder.embed_batch(texts))
                    .map_err(|e| warn!(error = %e, "search: cannot embed the table words"))
                    .ok()
            })
            .as_ref()
    }

    /// A name's vector: from the model, or (with a table) the mean of its
    /// words' vectors.
    fn name_vector(&self, name: &str) -> Option<Vec<f32>> {
        let name = name.to_lowercase();
        let Some(table) = &self.table else {
            return self.embed(&name);
        };
        let key = format!("name:{name}");
        if let Some(hit) = self.cached(&key) {
            return Some(hit);
        }
        let mut sum: Option<Vec<f32>> = None;
        for word in name.split(|c: char| !c.is_alphanumeric()) {
            let row = self.words.base_of(word).and_then(|b| table.row(&b));
            let Some(v) = row.and_then(|row| table.vector(row)) else {
                continue;
            };
            match &mut sum {
                Some(s) => s.iter_mut().zip(&v).for_each(|(a, b)| *a += b),
                None => sum = Some(v),
            }
        }
        let mut v = sum?;
        normalise(&mut v);
        self.remember(&key, &v);
        Some(v)
    }

    /// The nearest class, colour and camera-or-zone name, however far, to
    /// the base of `word` ("scooters": "scooter"); none when it is no word.
    pub fn guesses(&self, word: &str, vocabulary: &Vocabulary) -> Vec<Guess> {
        let Some(word) = self.words.base_of(word) else {
            return Vec::new();
        };
        let word = word.as_str();
        let (mut out, alone) = match &self.table {
            Some(table) => match table.row(word) {
                Some(row) => (table.guesses(row), table.vector(row)),
                None => return Vec::new(),
            },
            None => {
                let [class, color, alone] = forms(word);
                let vectors = (self.embed(&class), self.embed(&color), self.embed(&alone));
                let (Some(class), Some(color), Some(alone), Some(centroids)) =
                    (vectors.0, vectors.1, vectors.2, self.centroids())
                else {
                    return Vec::new();
                };
                let guesses = centroids
                    .score(word, &class, &color, &alone)
                    .into_iter()
                    .map(|(k, similarity, margin, alone, nearest)| Guess {
                        term: centroids.terms()[k].clone(),
                        similarity,
                        margin,
                        alone,
                        nearest,
                    })
                    .collect();
                (guesses, Some(alone))
            }
        };
        if let Some(alone) = alone {
            let names = vocabulary
                .cameras
                .iter()
                .map(|(id, name)| (Term::Camera(*id, name.clone()), name))
                .chain(vocabulary.zones.iter().map(|z| (Term::Zone(z.clone()), z)))
                .filter_map(|(term, name)| {
                    Some((term, similarity(&alone, &self.name_vector(name)?)))
                });
            out.extend(best_two(names));
        }
        out
    }
}

fn best_two(scored: impl Iterator<Item = (Term, f32)>) -> Option<Guess> {
    let mut all: Vec<(Term, f32)> = scored.collect();
    all.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut it = all.into_iter();
    let (term, similarity) = it.next()?;
    let margin = similarity - it.next().map_or(0.0, |(_, s)| s);
    Some(Guess {
        term,
        similarity,
        margin,
        alone: similarity,
        nearest: similarity,
    })
}

impl Semantic for SemanticTerms {
    fn dictionary(&self) -> &Dictionary {
        &self.words
    }

    fn nearest(&self, word: &str, vocabulary: &Vocabulary) -> Option<(Term, f32)> {
        self.guesses(word, vocabulary)
            .into_iter()
            .filter(Guess::accepted)
            .max_by(|a, b| a.similarity.total_cmp(&b.similarity))
            .map(|g| (g.term, g.similarity))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assets;

    /// As the server loads it: with the table setup made.
    fn terms() -> SemanticTerms {
        let terms = SemanticTerms::load(&assets::embedder_dir(), &assets::ort_library())
            .expect("the embedding model (npm run setup fetches it)");
        assert!(
            terms.has_table(),
            "no word table: run scripts/setup.sh (or cargo run -p peregrine-server --example semantic_table)"
        );
        terms
    }

    /// Asking the model, as without a table.
    fn model_terms() -> SemanticTerms {
        SemanticTerms {
            table: None,
            ..terms()
        }
    }

    fn vocabulary() -> Vocabulary {
        Vocabulary {
            cameras: vec![(1, "Front Gate".into()), (2, "Loading dock".into())],
            zones: vec!["Back Door".into(), "Car park".into()],
        }
    }

    const SYNONYMS: [(&str, &str, &str); 10] = [
        ("scooter", "class", "motorcycle"),
        ("juvenile", "class", "person"),
        ("toddler", "class", "person"),
        ("teenager", "class", "person"),
        ("limousine", "class", "car"),
        ("minivan", "class", "car"),
        ("bicyclist", "class", "bicycle"),
        ("scarlet", "color", "red"),
        ("crimson", "color", "red"),
        ("indigo", "color", "purple"),
    ];

    fn expected(kind: &str, label: &str) -> Term {
        match kind {
            "class" => Term::Class(label.into()),
            _ => Term::Color(label.into()),
        }
    }

    #[test]
    fn words_left_out_of_the_tables_find_their_term() {
        let vocabulary = vocabulary();
        for terms in [terms(), model_terms()] {
            for (word, kind, label) in SYNONYMS {
                let got = terms.nearest(word, &vocabulary);
                eprintln!(
                    "{word} → {got:?}   ({:?})",
                    terms.guesses(word, &vocabulary)
                );
                assert_eq!(
                    got.map(|(t, _)| t),
                    Some(expected(kind, label)),
                    "{word} (table: {})",
                    terms.has_table()
                );
            }
            // Inflections are looked up by their stem.
            let got = terms.nearest("scooters", &vocabulary);
            assert_eq!(got.map(|(t, _)| t), Some(Term::Class("motorcycle".into())));
        }
    }

    #[test]
    fn words_with_no_near_term_stay_unknown() {
        let vocabulary = vocabulary();
        // "hatchback" is a miss (as near a dog as a car); "drop", "playing"
        // and "yesterdays" were guessed (truck, sports ball, person) before
        // the word alone had to be near a word of the class.
        for terms in [terms(), model_terms()] {
            for word in [
                "xyzzy",
                "quickly",
                "because",
                "window",
                "hatchback",
                "drop",
                "playing",
                "yesterdays",
                "question",
                "certain",
                "pick",
                "control",
            ] {
                let got = terms.nearest(word, &vocabulary);
                eprintln!(
                    "{word} → {got:?}   ({:?})",
                    terms.guesses(word, &vocabulary)
                );
                assert_eq!(got, None, "{word} should stay unknown");
            }
        }
    }

    #[test]
    fn the_table_says_what_the_model_says() {
        let (table, model) = (terms(), model_terms());
        let vocabulary = Vocabulary::default();
        let words = SYNONYMS.iter().map(|(w, _, _)| *w).chain([
            "drop",
            "playing",
            "question",
            "entrance",
            "smartphone",
        ]);
        for word in words {
            let (a, b) = (
                table.guesses(word, &vocabulary),
                model.guesses(word, &vocabulary),
            );
            assert_eq!(a.len(), b.len(), "{word}");
            for (a, b) in a.iter().zip(&b) {
                assert_eq!(a.accepted(), b.accepted(), "{word}: {a:?} {b:?}");
                // A word the table did not place in a phrase scores 0 there.
                if a.similarity > 0.0 {
                    assert_eq!(a.term, b.term, "{word}");
                    assert!(
                        (a.similarity - b.similarity).abs() < 1e-3,
                        "{word}: {a:?} {b:?}"
                    );
                    assert!((a.nearest - b.nearest).abs() < 1e-3, "{word}: {a:?} {b:?}");
                }
            }
        }
    }

    #[test]
    fn names_are_matched_from_the_table_too() {
        let vocabulary = Vocabulary {
            cameras: vec![(1, "Front Gate".into())],
            zones: vec!["Entrance".into(), "Car park".into()],
        };
        for terms in [terms(), model_terms()] {
            let got = terms.nearest("entry", &vocabulary);
            assert_eq!(
                got.map(|(t, _)| t),
                Some(Term::Zone("Entrance".into())),
                "table: {}",
                terms.has_table()
            );
        }
    }
}
