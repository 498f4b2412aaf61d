//! SQLite's memory statistics, which cost a process-wide mutex on every allocation, are off once
//! `without_memory_statistics` ran before SQLite started, and the store works as before. A test binary of
//! its own: the setting is only taken before the process's first connection.

use mallguard_embedded::{SqliteStore, without_memory_statistics};

#[test]
fn a_store_opened_after_the_setting_keeps_no_memory_statistics() {
    // SAFETY: the only test of this binary, first thing: no other thread is in SQLite.
    assert!(unsafe { without_memory_statistics() }, "SQLite refused the setting");
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("mallguard.db")).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        use mallguard_domain::ports::StaffStore;
        let ids = store.blacklist().await;
        assert!(ids.is_ok(), "the store reads: {ids:?}");
    });
    // With statistics on, an open database holds hundreds of kilobytes (its schema, its page cache).
    // SAFETY: a plain read of a counter.
    assert_eq!(unsafe { rusqlite::ffi::sqlite3_memory_used() }, 0);
    // Once SQLite has started it refuses the setting, and says so.
    // SAFETY: still the only thread in SQLite.
    assert!(!unsafe { without_memory_statistics() });
}
