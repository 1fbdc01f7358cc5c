//! Search in plain words. [`parse`] turns a sentence ("person in red at the
//! back door last night") into a [`SearchFilter`], deterministically and
//! offline, reporting every word it did not understand; [`Store::search`]
//! runs a filter over the stored tracks (and, for counts, detections).
//!
//! The parser is a pure function of the query, the moment, the time zone
//! and the installation's vocabulary (camera and zone names), so every case
//! is a table row in a test. Words found in no table may be mapped by a
//! [`Semantic`] fallback (a sentence-embedding model), with its confidence,
//! but only English words and near misses of table words: a string that is
//! neither stays unknown, never becomes a guessed chip.

mod dictionary;
mod parse;
mod query;
mod time;
mod words;

use serde::{Deserialize, Serialize};

pub use dictionary::{screen, stems, Dictionary, Screened};
pub use parse::{parse, TYPO_CONFIDENCE};
pub use query::{SearchPage, SearchResult, MAX_LIMIT};
pub use time::local_zone;
pub use words::{known_terms, typo_of};

/// What a query asks for. Empty lists and `None` mean "any".
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SearchFilter {
    /// Detector class names ("person", "car", …).
    pub classes: Vec<String>,
    /// Colour names of the palette ("red", "blue", …).
    pub colors: Vec<String>,
    /// Camera ids.
    pub cameras: Vec<i64>,
    /// Zone or line names, as drawn.
    pub zones: Vec<String>,
    /// RFC 3339, UTC.
    pub from: Option<String>,
    pub to: Option<String>,
    /// Local time of day, "HH:MM" (an end before the start runs past midnight).
    pub time_of_day: Option<TimeOfDay>,
    /// At least this many objects of the classes on one frame.
    pub min_count: Option<u32>,
    pub min_dwell_s: Option<f64>,
    /// `in` / `out` (entering, leaving), or on screen: `left`, `right`,
    /// `up`, `down`, `stationary`.
    pub direction: Option<String>,
    pub alerts_only: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeOfDay {
    pub start: String,
    pub end: String,
}

/// A term the query was mapped to, shown as an editable chip.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Chip {
    /// `class`, `color`, `camera`, `zone`, `time`, `time_of_day`, `count`,
    /// `dwell`, `direction`, `alerts`.
    pub kind: &'static str,
    pub label: String,
    /// The words it came from.
    pub words: String,
    /// Below 1 when the semantic fallback made the match.
    pub confidence: f32,
}

/// What [`parse`] understood.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Parsed {
    pub filter: SearchFilter,
    pub chips: Vec<Chip>,
    /// Words neither understood, mapped, nor ignorable.
    pub unknown_words: Vec<String>,
}

/// Camera and zone names the parser can recognise.
#[derive(Clone, Debug, Default)]
pub struct Vocabulary {
    pub cameras: Vec<(i64, String)>,
    pub zones: Vec<String>,
}

/// A known term the semantic fallback may map a word to.
#[derive(Clone, Debug, PartialEq)]
pub enum Term {
    Class(String),
    Color(String),
    Camera(i64, String),
    Zone(String),
}

/// Maps a word found in no table to the nearest known term, with the
/// similarity, or `None` when nothing is close enough. The parser asks only
/// about words of its [`Dictionary`] (see [`screen`]).
pub trait Semantic: Send + Sync {
    /// The English words it may be asked about; empty: none.
    fn dictionary(&self) -> &Dictionary;
    fn nearest(&self, word: &str, vocabulary: &Vocabulary) -> Option<(Term, f32)>;
}
