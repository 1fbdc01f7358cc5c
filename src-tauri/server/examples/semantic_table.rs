//! Makes search's table of guesses beside the embedding model (see
//! `peregrine_server::semantic`), once: run again with nothing changed, it
//! checks the key and exits. Setup runs it:
//!
//!   cargo run -p peregrine-server --example semantic_table
//!
//! Model from `$PEREGRINE_EMBEDDER`, runtime from `$ORT_DYLIB_PATH`, word
//! list from `$PEREGRINE_WORDS` (as the server finds them).

use peregrine_server::{assets, semantic};

fn main() -> anyhow::Result<()> {
    let dir = assets::embedder_dir();
    let words = semantic::words_path();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let built = semantic::build_table(&dir, &assets::ort_library(), &words, threads)?;
    if built.made {
        println!(
            "search: word table made: {} words from {} in {:.0} s ({} threads): {}",
            built.words,
            words.display(),
            built.seconds,
            threads,
            built.path.display()
        );
    } else {
        println!(
            "search: word table up to date ({} words): {}",
            built.words,
            built.path.display()
        );
    }
    Ok(())
}
