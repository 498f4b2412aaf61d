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

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("MALLGUARD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Logs go to stderr so that what a command prints (a banner, a table, a timeline) stays clean, and
    // carry colour only on a terminal.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(colour)
        .with_writer(std::io::stderr)
        .init();
    match cli::run(cli).await {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
