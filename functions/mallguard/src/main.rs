//! `mallguard`: runs the whole stack locally on the embedded store (`cargo run`), and gives the staff
//! their tools: list and resolve holds, print the evidence, run the expiry sweep, replay quarantine.

mod args;
mod cli;
mod local;
mod send;
mod serve;
mod staff;
mod terminal;

use clap::Parser;

/// Threads for blocking work (SQLite, the outbox's files). Tokio's default (512) lets a burst of
/// requests start a thread each, every one with its own allocator arena; the store never uses more than
/// one writer and a few readers at once, so more threads would only hold memory.
const BLOCKING_THREADS: usize = 16;

/// Log lines that may wait for the log thread before a request waits for it.
const LOG_LINES_WAITING: usize = 2_048;

fn main() -> std::process::ExitCode {
    fewer_allocator_arenas();
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

/// glibc's allocator gives threads that allocate at the same time arenas of their own (up to eight per
/// core) and keeps each one's memory after the burst that made it; a burst of held orders at concurrency 64
/// then costs some 6 MB of resident memory for nothing. Two arenas serve two workers and a few blocking
/// threads.
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
    // A thread of its own writes the lines, so a request never waits for its log line's write: at the
    // default level every order logs one, which cost some 5 % of the server's throughput written in place.
    // Never lossy: should the thread fall behind, a request waits rather than a line being dropped. The
    // guard writes what is left when it is dropped, before the program ends or prints its error.
    let (writer, written) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        // A few thousand lines at most wait for the thread (its default, 128,000, held 5 MB more under a
        // burst of held orders at concurrency 64).
        .buffered_lines_limit(LOG_LINES_WAITING)
        .thread_name("mallguard-log")
        .finish(std::io::stderr());
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
