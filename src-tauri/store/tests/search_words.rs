//! Which words search may guess at, with the real word list (Debian's
//! `wamerican`, or `$PEREGRINE_WORDS`) and a fallback that guesses a class
//! for anything it is asked: strings that are not words never reach it,
//! so never become chips. The lists are in `tests/search/`; the same lists
//! run on the real embedding model in the server's search tests.

use std::path::PathBuf;
use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use peregrine_store::search::{
    parse, screen, typo_of, Dictionary, Parsed, Screened, Semantic, Term, Vocabulary,
    TYPO_CONFIDENCE,
};
use proptest::prelude::*;

fn words_path() -> PathBuf {
    std::env::var_os("PEREGRINE_WORDS")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/share/dict/american-english"))
}

fn dictionary() -> &'static Dictionary {
    static WORDS: OnceLock<Dictionary> = OnceLock::new();
    WORDS.get_or_init(|| {
        let path = words_path();
        let d = Dictionary::load(&path).unwrap_or_else(|e| {
            panic!(
                "the word list {} ({e}): install wamerican (scripts/setup.sh) or set PEREGRINE_WORDS",
                path.display()
            )
        });
        assert!(d.len() > 50_000, "{} holds {} words", path.display(), d.len());
        d
    })
}

fn list(name: &str) -> Vec<String> {
    let path = format!("{}/../../tests/search/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// The worst fallback there is: everything it is asked about is a person.
struct GuessesEverything;

impl Semantic for GuessesEverything {
    fn dictionary(&self) -> &Dictionary {
        dictionary()
    }
    fn nearest(&self, _word: &str, _vocabulary: &Vocabulary) -> Option<(Term, f32)> {
        Some((Term::Class("person".into()), 0.99))
    }
}

fn now() -> DateTime<Utc> {
    "2025-11-05T14:30:00Z".parse().unwrap()
}

fn parse_guessing(q: &str) -> Parsed {
    let vocabulary = Vocabulary {
        cameras: vec![(1, "Front Gate".into()), (2, "Demo cam 2".into())],
        zones: vec!["Back Door".into(), "Parking".into()],
    };
    parse(
        q,
        now(),
        chrono_tz::Europe::London,
        &vocabulary,
        Some(&GuessesEverything),
    )
}

#[test]
fn the_word_lists_hold_what_they_say() {
    let d = dictionary();
    let non_words = list("non-words.txt");
    let ordinary = list("ordinary-words.txt");
    assert!(non_words.len() >= 100, "{} non-words", non_words.len());
    assert!(ordinary.len() >= 50, "{} ordinary words", ordinary.len());
    for w in &non_words {
        assert_eq!(screen(w, d), Screened::NotAWord, "{w} is in the word list");
    }
    for w in &ordinary {
        assert_eq!(screen(w, d), Screened::Word, "{w} is not in the word list");
    }
    for w in ["drop", "playing", "yesterdays"] {
        assert!(ordinary.contains(&w.to_owned()), "{w}");
    }
}

#[test]
fn no_non_word_becomes_a_chip() {
    let non_words = list("non-words.txt");
    let mut chips = Vec::new();
    for w in &non_words {
        let p = parse_guessing(w);
        if !p.chips.is_empty() {
            chips.push(format!("{w} → {:?}", p.chips));
        }
    }
    assert!(
        chips.is_empty(),
        "{} of {} non-words gave chips:\n{}",
        chips.len(),
        non_words.len(),
        chips.join("\n")
    );
    // The reported queries, whole.
    for q in [
        "blorptastic frobnicator",
        &"x".repeat(40),
        "xxxxxxxx xxxxxxxx",
    ] {
        let p = parse_guessing(q);
        let guessed: Vec<_> = p.chips.iter().filter(|c| c.confidence < 1.0).collect();
        assert!(guessed.is_empty(), "{q}: {guessed:?}");
    }
    // "drop" is a word (the model may be asked; see the server's tests),
    // "table" names a class; nothing else is made up.
    let p = parse_guessing("'; DROP TABLE detections; --");
    assert_eq!(p.filter.classes, ["person", "dining table"]);
    assert_eq!(p.chips[0].words, "drop");
}

#[test]
fn near_misses_of_table_words_are_their_term() {
    for (q, kind, label) in [
        ("persn", "class", "person"),
        ("pedestrain", "class", "person"),
        ("bicylce", "class", "bicycle"),
        ("motorcyle", "class", "motorcycle"),
        ("yelow", "color", "yellow"),
        ("purpel", "color", "purple"),
        ("giraffs", "class", "giraffe"),
    ] {
        let p = parse_guessing(q);
        assert_eq!(p.chips.len(), 1, "{q}: {p:?}");
        assert_eq!((p.chips[0].kind, p.chips[0].label.as_str()), (kind, label));
        assert_eq!(p.chips[0].confidence, TYPO_CONFIDENCE);
    }
    // English words near a table word are words, not slips ("planet" is
    // not a plane, "hoarse" not a horse).
    for w in ["planet", "hoarse", "carts", "bench", "wooden"] {
        assert_ne!(
            screen(w, dictionary()),
            Screened::NotAWord,
            "{w} should be a word"
        );
    }
    assert_eq!(typo_of("hoarse"), Some(Term::Class("horse".into())));
    assert_eq!(screen("hoarse", dictionary()), Screened::Word);
    // One slip from two terms ("plane", "plant"): neither.
    assert_eq!(typo_of("planet"), None);
}

#[test]
fn without_a_word_list_nothing_is_guessed() {
    struct NoWords(Dictionary);
    impl Semantic for NoWords {
        fn dictionary(&self) -> &Dictionary {
            &self.0
        }
        fn nearest(&self, _word: &str, _vocabulary: &Vocabulary) -> Option<(Term, f32)> {
            Some((Term::Class("person".into()), 0.99))
        }
    }
    let p = parse(
        "scooter persn quickly",
        now(),
        chrono_tz::Europe::London,
        &Vocabulary::default(),
        Some(&NoWords(Dictionary::default())),
    );
    assert!(p.chips.is_empty(), "{p:?}");
    assert_eq!(p.unknown_words, ["scooter", "persn", "quickly"]);
}

fn fallback_chips_are_words(p: &Parsed) -> Result<(), TestCaseError> {
    for chip in p.chips.iter().filter(|c| c.confidence < 1.0) {
        prop_assert_ne!(
            screen(&chip.words, dictionary()),
            Screened::NotAWord,
            "{:?} became {:?}",
            chip.words,
            chip
        );
    }
    Ok(())
}

proptest! {
    #[test]
    fn a_random_letter_string_is_never_guessed(word in "[a-z]{1,16}") {
        let p = parse_guessing(&word);
        fallback_chips_are_words(&p)?;
        if screen(&word, dictionary()) == Screened::NotAWord {
            prop_assert!(
                p.chips.iter().all(|c| c.confidence == 1.0),
                "{word}: {:?}", p.chips
            );
        }
    }

    #[test]
    fn random_strings_are_never_guessed(query in "[a-zA-Z0-9' ;\\-]{1,60}") {
        fallback_chips_are_words(&parse_guessing(&query))?;
    }

    #[test]
    fn any_mix_of_non_words_gives_no_chip(
        picks in proptest::collection::vec(any::<prop::sample::Index>(), 1..8)
    ) {
        let non_words = list("non-words.txt");
        let query: Vec<&str> = picks.iter().map(|i| non_words[i.index(non_words.len())].as_str()).collect();
        let p = parse_guessing(&query.join(" "));
        prop_assert!(p.chips.is_empty(), "{:?}: {:?}", query, p.chips);
    }
}
