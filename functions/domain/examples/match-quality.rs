//! Prints the matching-quality table: recall and false holds by family over the labelled corpus of
//! `mallguard_domain::quality`. `cargo run -p mallguard-domain --features testing --example match-quality`
//! (add `-- --wrong` to list the pairs that came out wrong).

use mallguard_domain::quality::{CORPUS, evaluate, table};

fn main() {
    let (families, total) = evaluate(CORPUS);
    print!("{}", table(&families, &total));
    println!(
        "\n{} pairs ({} must match, {} must not): recall {:.1} %, false holds {:.1} %",
        CORPUS.len(),
        total.duplicates,
        total.distinct,
        total.recall() * 100.0,
        total.false_hold_rate() * 100.0
    );
    if std::env::args().any(|a| a == "--wrong") {
        for &i in &total.wrong {
            let pair = &CORPUS[i];
            println!(
                "#{i} {} ({}): {:?} / {:?}",
                pair.family,
                if pair.duplicate { "must match" } else { "must not" },
                pair.a,
                pair.b
            );
        }
    }
}
