//! The parser's tables: class synonyms, colour names, stopwords, numbers.
//! Plurals are handled by the lookup (a trailing "s" or "es").

/// Words (and two-word phrases) for detector classes. A word may stand for
/// several classes ("vehicle").
const CLASSES: &[(&str, &[&str])] = &[
    ("person", &["person"]),
    ("people", &["person"]),
    ("persons", &["person"]),
    ("man", &["person"]),
    ("men", &["person"]),
    ("woman", &["person"]),
    ("women", &["person"]),
    ("kid", &["person"]),
    ("child", &["person"]),
    ("children", &["person"]),
    ("boy", &["person"]),
    ("girl", &["person"]),
    ("guy", &["person"]),
    ("lady", &["person"]),
    ("ladies", &["person"]),
    ("pedestrian", &["person"]),
    ("human", &["person"]),
    ("someone", &["person"]),
    ("somebody", &["person"]),
    ("anyone", &["person"]),
    ("anybody", &["person"]),
    ("intruder", &["person"]),
    ("visitor", &["person"]),
    ("stranger", &["person"]),
    ("worker", &["person"]),
    ("delivery driver", &["person"]),
    ("courier", &["person"]),
    ("postman", &["person"]),
    ("car", &["car"]),
    ("sedan", &["car"]),
    ("saloon", &["car"]),
    ("suv", &["car"]),
    ("automobile", &["car"]),
    ("taxi", &["car"]),
    ("cab", &["car"]),
    ("van", &["car", "truck"]),
    ("vehicle", &["car", "truck", "bus", "motorcycle"]),
    ("truck", &["truck"]),
    ("lorry", &["truck"]),
    ("lorries", &["truck"]),
    ("pickup", &["truck"]),
    ("pick-up", &["truck"]),
    ("hgv", &["truck"]),
    ("bus", &["bus"]),
    ("buses", &["bus"]),
    ("coach", &["bus"]),
    ("bicycle", &["bicycle"]),
    ("bike", &["bicycle"]),
    ("cycle", &["bicycle"]),
    ("cyclist", &["bicycle"]),
    ("motorcycle", &["motorcycle"]),
    ("motorbike", &["motorcycle"]),
    ("motorcyclist", &["motorcycle"]),
    ("dog", &["dog"]),
    ("puppy", &["dog"]),
    ("puppies", &["dog"]),
    ("cat", &["cat"]),
    ("kitten", &["cat"]),
    ("bird", &["bird"]),
    ("horse", &["horse"]),
    (
        "animal",
        &[
            "bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe",
        ],
    ),
    ("pet", &["cat", "dog"]),
    ("backpack", &["backpack"]),
    ("rucksack", &["backpack"]),
    ("handbag", &["handbag"]),
    ("purse", &["handbag"]),
    ("bag", &["backpack", "handbag", "suitcase"]),
    ("suitcase", &["suitcase"]),
    ("luggage", &["suitcase"]),
    ("umbrella", &["umbrella"]),
    ("boat", &["boat"]),
    ("train", &["train"]),
    ("airplane", &["airplane"]),
    ("plane", &["airplane"]),
    ("traffic light", &["traffic light"]),
    ("stop sign", &["stop sign"]),
    ("fire hydrant", &["fire hydrant"]),
    ("bench", &["bench"]),
    ("chair", &["chair"]),
    ("bottle", &["bottle"]),
    ("laptop", &["laptop"]),
    ("phone", &["cell phone"]),
    ("cell phone", &["cell phone"]),
    ("mobile phone", &["cell phone"]),
    ("skateboard", &["skateboard"]),
    ("ball", &["sports ball"]),
    // The rest of the detector's classes, by name, irregular plural and
    // everyday names.
    ("aeroplane", &["airplane"]),
    ("aircraft", &["airplane"]),
    ("ship", &["boat"]),
    ("hydrant", &["fire hydrant"]),
    ("parking meter", &["parking meter"]),
    ("sheep", &["sheep"]),
    ("lamb", &["sheep"]),
    ("cow", &["cow"]),
    ("cattle", &["cow"]),
    ("elephant", &["elephant"]),
    ("bear", &["bear"]),
    ("zebra", &["zebra"]),
    ("giraffe", &["giraffe"]),
    ("tie", &["tie"]),
    ("necktie", &["tie"]),
    ("frisbee", &["frisbee"]),
    ("skis", &["skis"]),
    ("ski", &["skis"]),
    ("snowboard", &["snowboard"]),
    ("sports ball", &["sports ball"]),
    ("football", &["sports ball"]),
    ("kite", &["kite"]),
    ("baseball bat", &["baseball bat"]),
    ("baseball glove", &["baseball glove"]),
    ("surfboard", &["surfboard"]),
    ("tennis racket", &["tennis racket"]),
    ("tennis racquet", &["tennis racket"]),
    ("racket", &["tennis racket"]),
    ("racquet", &["tennis racket"]),
    ("wine glass", &["wine glass"]),
    ("cup", &["cup"]),
    ("mug", &["cup"]),
    ("fork", &["fork"]),
    ("knife", &["knife"]),
    ("knives", &["knife"]),
    ("spoon", &["spoon"]),
    ("bowl", &["bowl"]),
    ("banana", &["banana"]),
    ("apple", &["apple"]),
    ("sandwich", &["sandwich"]),
    // Alone, "orange" is the colour (see `parse`).
    ("orange", &["orange"]),
    ("broccoli", &["broccoli"]),
    ("carrot", &["carrot"]),
    ("hot dog", &["hot dog"]),
    ("hotdog", &["hot dog"]),
    ("pizza", &["pizza"]),
    ("donut", &["donut"]),
    ("doughnut", &["donut"]),
    ("cake", &["cake"]),
    ("couch", &["couch"]),
    ("sofa", &["couch"]),
    ("potted plant", &["potted plant"]),
    ("plant", &["potted plant"]),
    ("houseplant", &["potted plant"]),
    ("bed", &["bed"]),
    ("dining table", &["dining table"]),
    ("table", &["dining table"]),
    ("toilet", &["toilet"]),
    ("tv", &["tv"]),
    ("television", &["tv"]),
    ("mouse", &["mouse"]),
    ("mice", &["mouse"]),
    ("remote", &["remote"]),
    ("remote control", &["remote"]),
    ("keyboard", &["keyboard"]),
    ("microwave", &["microwave"]),
    ("oven", &["oven"]),
    ("toaster", &["toaster"]),
    ("sink", &["sink"]),
    ("refrigerator", &["refrigerator"]),
    ("fridge", &["refrigerator"]),
    ("book", &["book"]),
    ("clock", &["clock"]),
    ("vase", &["vase"]),
    ("scissors", &["scissors"]),
    ("teddy bear", &["teddy bear"]),
    ("teddy", &["teddy bear"]),
    ("hair drier", &["hair drier"]),
    ("hair dryer", &["hair drier"]),
    ("hairdryer", &["hair drier"]),
    ("toothbrush", &["toothbrush"]),
];

/// Colour words mapped to the palette colours are stored with.
const COLORS: &[(&str, &str)] = &[
    ("red", "red"),
    ("crimson", "red"),
    ("maroon", "red"),
    ("burgundy", "red"),
    ("cherry", "red"),
    ("ruby", "red"),
    ("blue", "blue"),
    ("navy", "blue"),
    ("azure", "blue"),
    ("cobalt", "blue"),
    ("cyan", "blue"),
    ("turquoise", "blue"),
    ("denim", "blue"),
    ("green", "green"),
    ("olive", "green"),
    ("lime", "green"),
    ("emerald", "green"),
    ("teal", "green"),
    ("yellow", "yellow"),
    ("gold", "yellow"),
    ("golden", "yellow"),
    ("mustard", "yellow"),
    ("orange", "orange"),
    ("amber", "orange"),
    ("peach", "orange"),
    ("coral", "orange"),
    ("purple", "purple"),
    ("violet", "purple"),
    ("lilac", "purple"),
    ("lavender", "purple"),
    ("magenta", "purple"),
    ("mauve", "purple"),
    ("pink", "pink"),
    ("rose", "pink"),
    ("fuchsia", "pink"),
    ("salmon", "pink"),
    ("brown", "brown"),
    ("tan", "brown"),
    ("beige", "brown"),
    ("khaki", "brown"),
    ("chocolate", "brown"),
    ("bronze", "brown"),
    ("black", "black"),
    ("ebony", "black"),
    ("white", "white"),
    ("ivory", "white"),
    ("cream", "white"),
    ("grey", "grey"),
    ("gray", "grey"),
    ("silver", "grey"),
    ("charcoal", "grey"),
];

/// Clothing words: they say where a colour is, and are consumed with it.
const CLOTHING: &[&str] = &[
    "shirt", "t-shirt", "tshirt", "top", "jacket", "coat", "hoodie", "sweater", "jumper", "pants",
    "trousers", "jeans", "shorts", "skirt", "dress", "hat", "cap", "clothes", "clothing", "outfit",
    "shoes", "uniform", "vest", "jersey", "colored", "coloured", "color", "colour",
];

/// Words that carry no filter: consumed silently.
const STOPWORDS: &[&str] = &[
    "the",
    "a",
    "an",
    "at",
    "in",
    "on",
    "of",
    "by",
    "with",
    "near",
    "around",
    "by",
    "show",
    "me",
    "find",
    "all",
    "any",
    "some",
    "get",
    "look",
    "looking",
    "for",
    "search",
    "there",
    "was",
    "were",
    "is",
    "are",
    "be",
    "been",
    "who",
    "that",
    "which",
    "please",
    "i",
    "want",
    "see",
    "list",
    "clip",
    "clips",
    "video",
    "videos",
    "footage",
    "recording",
    "recordings",
    "event",
    "events",
    "one",
    "ones",
    "camera",
    "cameras",
    "cam",
    "and",
    "or",
    "wearing",
    "wore",
    "dressed",
    "has",
    "had",
    "have",
    "this",
    "did",
    "do",
    "does",
    "what",
    "where",
    "when",
    "go",
    "went",
    "come",
    "came",
    "into",
    "onto",
    "through",
    "just",
    "only",
    "also",
    "like",
    "can",
    "you",
    "my",
    "our",
    "their",
    "his",
    "her",
    "its",
    "it",
    "them",
    "they",
    "he",
    "she",
    "we",
    "walking",
    "walked",
    "going",
    "moving",
    "any",
    "from",
    "to",
    "up",
    "out",
    "times",
    "time",
    "happened",
    "seen",
    "spotted",
    "detected",
    "detection",
    "detections",
    "object",
    "objects",
    "thing",
    "things",
    "anything",
    "everything",
    "something",
    "here",
    "area",
    "zone",
    "us",
    "let",
    "lets",
    "let's",
    "tell",
];

/// Words for alerts only.
pub const ALERT_WORDS: &[&str] = &[
    "alert",
    "alerts",
    "alarm",
    "alarms",
    "incident",
    "incidents",
    "alarmed",
    "triggered",
];

pub fn classes(word: &str) -> Option<&'static [&'static str]> {
    lookup(CLASSES, word)
}

/// A colour word or its plural ("reds").
pub fn color(word: &str) -> Option<&'static str> {
    lookup(COLORS, word)
}

/// A colour word as written.
pub fn color_exact(word: &str) -> Option<&'static str> {
    COLORS.iter().find(|(k, _)| *k == word).map(|(_, v)| *v)
}

/// A table value for `word` or its singular.
fn lookup<T: Copy>(table: &[(&str, T)], word: &str) -> Option<T> {
    let find = |w: &str| table.iter().find(|(k, _)| *k == w).map(|(_, v)| *v);
    find(word)
        .or_else(|| word.strip_suffix("es").and_then(find))
        .or_else(|| word.strip_suffix('s').and_then(find))
}

pub fn is_clothing(word: &str) -> bool {
    CLOTHING.contains(&word)
        || word
            .strip_suffix('s')
            .is_some_and(|w| CLOTHING.contains(&w))
}

pub fn is_stopword(word: &str) -> bool {
    STOPWORDS.contains(&word)
}

/// "3", "three", "a dozen" (one word only).
pub fn number(word: &str) -> Option<u32> {
    const WORDS: &[&str] = &[
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
        "twenty",
    ];
    if let Ok(n) = word.parse::<u32>() {
        return (n <= 100_000).then_some(n);
    }
    match word {
        "thirty" => Some(30),
        "forty" => Some(40),
        "fifty" => Some(50),
        "sixty" => Some(60),
        "ninety" => Some(90),
        "dozen" => Some(12),
        _ => WORDS.iter().position(|w| *w == word).map(|n| n as u32),
    }
}

/// The term of the one class or colour word of five letters or more that
/// `word` (or its singular) is one typing slip from: a letter added, lost,
/// changed, or two swapped. `None` when none is, or when two terms are.
pub fn typo_of(word: &str) -> Option<super::Term> {
    let mut found: Option<super::Term> = None;
    let forms = [Some(word), word.strip_suffix('s')];
    for (key, term) in known_terms() {
        if key.chars().count() < 5 || key.contains(' ') {
            continue;
        }
        let near = forms
            .iter()
            .flatten()
            .any(|w| w.chars().count() >= 4 && one_slip(w, key));
        if near {
            match &found {
                Some(t) if *t != term => return None,
                _ => found = Some(term),
            }
        }
    }
    found
}

/// At most one insertion, deletion, substitution or swap of neighbours.
fn one_slip(a: &str, b: &str) -> bool {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len().abs_diff(b.len()) > 1 {
        return false;
    }
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let (ra, rb) = (&a[prefix..], &b[prefix..]);
    let suffix = ra
        .iter()
        .rev()
        .zip(rb.iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (ma, mb) = (&ra[..ra.len() - suffix], &rb[..rb.len() - suffix]);
    match (ma.len(), mb.len()) {
        (0, 0) | (1, 0) | (0, 1) | (1, 1) => true,
        (2, 2) => ma[0] == mb[1] && ma[1] == mb[0],
        _ => false,
    }
}

/// Table words that stand for a class without being an example of one:
/// the semantic fallback does not compare with them ("answer" is nearer
/// "somebody" than any teenager is).
const NOT_EXAMPLES: &[&str] = &["someone", "somebody", "anyone", "anybody"];

/// Every known class and colour term, for the semantic fallback to map to:
/// the words of one class only, and no pronouns.
pub fn known_terms() -> impl Iterator<Item = (&'static str, super::Term)> {
    let classes = CLASSES
        .iter()
        .filter(|(k, v)| v.len() == 1 && !NOT_EXAMPLES.contains(k))
        .map(|(k, v)| (*k, super::Term::Class(v[0].to_owned())));
    let colors = COLORS
        .iter()
        .map(|(k, v)| (*k, super::Term::Color((*v).to_owned())));
    classes.chain(colors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_slip_is_one_edit_or_one_swap() {
        for (a, b) in [
            ("persn", "person"),
            ("persoon", "person"),
            ("pwrson", "person"),
            ("preson", "person"),
            ("person", "person"),
        ] {
            assert!(one_slip(a, b), "{a} {b}");
        }
        for (a, b) in [
            ("prsn", "person"),
            ("nosrep", "person"),
            ("perosnn", "person"),
        ] {
            assert!(!one_slip(a, b), "{a} {b}");
        }
    }
}
