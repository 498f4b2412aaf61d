//! `mallguard`: runs the whole stack locally on the embedded store (`cargo run`), and gives the staff
//! their tools: list and resolve holds, print the evidence, run the expiry sweep, replay quarantine.

mod args;
mod cli;
mod local;
mod log_writer;
mod send;
mod serve;
mod staff;
mod terminal;

use clap::Parser;

/// mimalloc rather than the system's allocator: a request allocates and frees many small values (the
/// payload's fields, its JSON, the keys), and with mimalloc's per-thread free lists ingest answered 3 to 7 %
/// more orders a second at concurrency 1 and 4 to 8 % more at 8, for a few MB more at its peak (30 and 35 MB
/// against 27 and 29 at concurrency 64; see the README's Performance section).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Threads for blocking work (SQLite, the outbox's files). Tokio's default (512) lets a burst of
/// requests start a thread each, every one with its own allocator arena; the store never uses more than
/// one writer and a few readers at once, so more threads would only hold memory.
const BLOCKING_THREADS: usize = 16;

/// How long the log's thread lets lines gather after the first before it writes them.
const LOG_GATHER: std::time::Duration = std::time::Duration::from_millis(5);

/// The bytes of log lines that may wait for the log's thread; a line beyond them is written in place.
const LOG_BUFFER_BYTES: usize = 256 * 1024;

fn main() -> std::process::ExitCode {
    fewer_allocator_arenas();
    // SAFETY: first thing in `main`, before any other thread exists or any connection is opened.
    if !unsafe { mallguard_embedded::without_memory_statistics() } {
        eprintln!("warning: SQLite had started already; its memory statistics stay on");
    }
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(BLOCKING_THREADS)
        .build()
    {
        Ok(runtime) => runtime.block_on(run()),
        Err(err) => {
            eprintln!("error: cannot start the runtime: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// glibc's allocator, which still serves SQLite (its C code allocates with `malloc`; Rust's allocations go to
/// mimalloc), gives threads that allocate at the same time arenas of their own (up to eight per core) and
/// keeps each one's memory after the burst that made it: with every allocation on it, a burst of held orders
/// at concurrency 64 cost some 6 MB of resident memory for nothing. Two arenas serve two workers and a few
/// blocking threads.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn fewer_allocator_arenas() {
    // SAFETY: called first thing in `main`, before any other thread exists or anything is allocated
    // concurrently; `mallopt` only sets a tuning parameter and returns whether it took it.
    let _ = unsafe { libc::mallopt(libc::M_ARENA_MAX, 2) };
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn fewer_allocator_arenas() {}

async fn run() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("MALLGUARD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Logs go to stderr so that what a command prints (a banner, a table, a timeline) stays clean, and
    // carry colour only on a terminal.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    // A thread of its own writes the lines, gathered, so a request neither waits for its line's write nor
    // wakes a thread for each line (see `log_writer`). Never lossy; what waits is written before the
    // program ends or prints its error (the guard).
    let gathering = log_writer::Gathering {
        every: LOG_GATHER,
        limit: LOG_BUFFER_BYTES,
    };
    let (writer, written) = match log_writer::gathered(Box::new(std::io::stderr()), gathering, "mallguard-log") {
        Ok(gathered) => gathered,
        Err(err) => {
            eprintln!("error: cannot start the log's thread: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(colour)
        .with_writer(writer)
        .init();
    let outcome = cli::run(cli).await;
    drop(written);
    match outcome {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
