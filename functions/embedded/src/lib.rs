//! mallguard's local adapters: [`SqliteStore`], the `Store` port in one SQLite file, and
//! [`OutboxMailer`], the `Mailer` port as a folder of `.eml` files. With them the whole service runs on
//! one machine with no cloud account (`cargo run`), and the tests run without network.

mod outbox;
pub mod payload;
mod store;

pub use outbox::OutboxMailer;
pub use store::{SqliteStore, without_memory_statistics};
