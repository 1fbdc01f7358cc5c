//! Which words may be guessed at. The semantic fallback maps a word found
//! in no table to the nearest known term; asked about "blorptastic" it
//! still answers something. So only an English word (from a word list,
//! such as Debian's `wamerican`), or a near miss of a table word ("persn",
//! "pedestrain"), is ever passed on; anything else stays unknown.

use std::io;
use std::path::Path;

use super::words;
use super::Term;

/// A sorted list of lower-case English words, in one allocation.
#[derive(Clone, Debug, Default)]
pub struct Dictionary {
    text: String,
    /// Start and end of each word in `text`, sorted by word.
    spans: Vec<(u32, u32)>,
}

impl Dictionary {
    /// The words of a list, one a line. Proper nouns (capitalised) and
    /// possessives ("dog's") are left out: a name is not a thing to guess.
    pub fn from_list(list: &str) -> Self {
        let mut words: Vec<&str> = list
            .lines()
            .map(str::trim)
            .filter(|w| {
                !w.is_empty()
                    && w.chars().all(|c| c.is_lowercase() || c == '-')
                    && w.chars().any(char::is_alphabetic)
            })
            .collect();
        words.sort_unstable();
        words.dedup();
        let mut text = String::with_capacity(words.iter().map(|w| w.len()).sum());
        let mut spans = Vec::with_capacity(words.len());
        for w in words {
            let start = text.len() as u32;
            text.push_str(w);
            spans.push((start, text.len() as u32));
        }
        Self { text, spans }
    }

    pub fn load(path: &Path) -> io::Result<Self> {
        Ok(Self::from_list(&std::fs::read_to_string(path)?))
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Every listed word, in order.
    pub fn words(&self) -> impl Iterator<Item = &str> + '_ {
        self.spans
            .iter()
            .map(|&(s, e)| &self.text[s as usize..e as usize])
    }

    /// Listed words that are no inflection of another listed word ("dog",
    /// not "dogs"): what a table of guesses needs to hold.
    pub fn base_words(&self) -> impl Iterator<Item = &str> + '_ {
        self.words()
            .filter(|w| !stems(w).iter().any(|s| s.len() >= 2 && self.listed(s)))
    }

    fn is_base(&self, word: &str) -> bool {
        self.listed(word) && !stems(word).iter().any(|s| s.len() >= 2 && self.listed(s))
    }

    /// The base word (see [`Dictionary::base_words`]) that `word` is, or
    /// inflects: "playing" → "play", "scooters" → "scooter", "stoppings" →
    /// "stop". Inflections are judged as their base.
    pub fn base_of(&self, word: &str) -> Option<String> {
        let word = word.strip_suffix("'s").unwrap_or(word);
        if self.is_base(word) {
            return Some(word.to_owned());
        }
        for stem in stems(word) {
            if self.is_base(&stem) {
                return Some(stem);
            }
            if let Some(s) = stems(&stem).into_iter().find(|s| self.is_base(s)) {
                return Some(s);
            }
        }
        None
    }

    fn listed(&self, word: &str) -> bool {
        self.spans
            .binary_search_by(|&(s, e)| self.text[s as usize..e as usize].cmp(word))
            .is_ok()
    }

    /// `word` is listed, or is a plural, an -ing or -ed form, or a
    /// possessive of a listed word ("trucks", "parking", "parked",
    /// "taxis", "stopped", "carried", "driver's").
    pub fn knows(&self, word: &str) -> bool {
        let word = word.strip_suffix("'s").unwrap_or(word);
        if word.is_empty() {
            return false;
        }
        if self.listed(word) {
            return true;
        }
        stems(word).iter().any(|s| s.len() >= 2 && self.listed(s))
    }
}

/// What an inflected word may have been before its ending, most likely
/// first ("taxis": "taxi"; "stopped": "stopp", "stoppe", "stop").
pub fn stems(word: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(base) = word.strip_suffix("ies") {
        out.push(format!("{base}y"));
    }
    if let Some(base) = word.strip_suffix("es") {
        out.push(base.to_owned());
    }
    if let Some(base) = word.strip_suffix('s') {
        if !base.ends_with('s') {
            out.push(base.to_owned());
        }
    }
    if let Some(base) = word.strip_suffix("ied") {
        out.push(format!("{base}y"));
    }
    for ending in ["ing", "ed"] {
        if let Some(base) = word.strip_suffix(ending) {
            out.push(base.to_owned());
            out.push(format!("{base}e"));
            // "stopped", "running": a doubled last consonant.
            let mut last = base.chars().rev();
            if let (Some(a), Some(b)) = (last.next(), last.next()) {
                if a == b && base.chars().count() >= 3 {
                    out.push(base[..base.len() - a.len_utf8()].to_owned());
                }
            }
        }
    }
    out
}

/// What the fallback may do with a word found in no table.
#[derive(Clone, Debug, PartialEq)]
pub enum Screened {
    /// One edit from a table word of five letters or more, and not itself
    /// an English word: that word's term.
    Typo(Term),
    /// An English word: the embedding may guess.
    Word,
    /// Neither: it stays unknown.
    NotAWord,
}

/// Sorts `word` (lower case, as the parser splits it) for the fallback.
/// With no word list (empty), nothing is a word and nothing a typo.
pub fn screen(word: &str, dictionary: &Dictionary) -> Screened {
    if dictionary.is_empty() {
        return Screened::NotAWord;
    }
    if dictionary.knows(word) {
        return Screened::Word;
    }
    match words::typo_of(word) {
        Some(term) => Screened::Typo(term),
        None => Screened::NotAWord,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dictionary() -> Dictionary {
        Dictionary::from_list("Alice\ncar\ncarry\ndog\ndog's\nmake\nrun\nstop\ntaxi\nbus\nfly\n")
    }

    #[test]
    fn inflections_of_listed_words_are_words() {
        let d = dictionary();
        for w in [
            "car", "cars", "dogs", "dog's", "taxis", "buses", "carried", "carries", "making",
            "running", "stopped", "stops", "flies",
        ] {
            assert!(d.knows(w), "{w}");
        }
        for w in ["alice", "carz", "dogz", "s", "ing", "'s", "xyzzying"] {
            assert!(!d.knows(w), "{w}");
        }
        assert_eq!(d.len(), 9);
        assert_eq!(d.base_of("stopped").as_deref(), Some("stop"));
        assert_eq!(d.base_of("taxis").as_deref(), Some("taxi"));
        assert_eq!(d.base_of("carry").as_deref(), Some("carry"));
        assert_eq!(d.base_of("carries").as_deref(), Some("carry"));
        assert_eq!(d.base_of("dog's").as_deref(), Some("dog"));
        assert_eq!(d.base_of("xyzzy"), None);
        let bases: Vec<&str> = d.base_words().collect();
        assert_eq!(
            bases,
            ["bus", "car", "carry", "dog", "fly", "make", "run", "stop", "taxi"]
        );
    }

    #[test]
    fn near_misses_of_table_words_are_their_term() {
        let d = dictionary();
        assert_eq!(
            screen("persn", &d),
            Screened::Typo(Term::Class("person".into()))
        );
        assert_eq!(
            screen("pedestrain", &d),
            Screened::Typo(Term::Class("person".into()))
        );
        assert_eq!(
            screen("yelow", &d),
            Screened::Typo(Term::Color("yellow".into()))
        );
        assert_eq!(screen("carry", &d), Screened::Word);
        // Short table words take no typos ("cat" / "cab" / "car").
        assert_eq!(screen("caz", &d), Screened::NotAWord);
        assert_eq!(screen("blorptastic", &d), Screened::NotAWord);
    }
}
