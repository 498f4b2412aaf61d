//! End-to-end tests: the real routers on a loopback port, over real HTTP, on the embedded store, with
//! the sample events of `events/` as payloads.

mod bad_input;
mod duplicates;
mod races;
