//! The data folder holds buyers' names, addresses and orders (the database, the mails in the outbox) and
//! the secrets: no other local user may read any of it, whatever the umask the program runs under, and
//! a folder an older version left open is closed on the next start.

#![cfg(unix)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{BIN, event, spawn, stdout};

/// `mallguard ARGS` under `umask 000`: every file it creates without an explicit mode is world-readable
/// and world-writable.
fn permissive(data: &Path, args: &[&str]) -> Command {
    let mut command = Command::new("sh");
    command
        .args(["-c", "umask 000 && exec \"$0\" \"$@\"", BIN])
        .args(args)
        .env("MALLGUARD_DATA", data)
        .env("MALLGUARD_LOG", "warn");
    command
}

fn run(data: &Path, args: &[&str]) -> Output {
    let output = permissive(data, args).output().unwrap();
    assert!(
        output.status.success(),
        "mallguard {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Every entry under `root`, `root` included, with its permission bits.
fn modes(root: &Path) -> Vec<(PathBuf, u32)> {
    let mut found = vec![(root.to_owned(), mode(root))];
    for entry in std::fs::read_dir(root).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(modes(&path));
        } else {
            found.push((path.clone(), mode(&path)));
        }
    }
    found
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path).unwrap().permissions().mode() & 0o777
}

fn assert_owner_only(data: &Path) -> Vec<PathBuf> {
    let modes = modes(data);
    let open: Vec<String> = modes
        .iter()
        .filter(|(_, mode)| mode & 0o077 != 0)
        .map(|(path, mode)| format!("{:o} {}", mode, path.display()))
        .collect();
    assert!(open.is_empty(), "readable by others:\n{}", open.join("\n"));
    modes.into_iter().map(|(path, _)| path).collect()
}

#[tokio::test]
async fn the_data_folder_and_everything_in_it_are_the_owners_only_whatever_the_umask() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join(".mallguard");
    let (server, url, _) = spawn(permissive(&data, &["serve", "--bind", "127.0.0.1:0"]));

    let first = stdout(&run(&data, &["send", &event("generic/order.json"), "--url", &url]));
    assert!(first.contains("\"accepted\""), "{first}");
    let second = stdout(&run(
        &data,
        &["send", &event("generic/order-duplicate.json"), "--url", &url],
    ));
    assert!(second.contains("\"held\""), "{second}");
    // A second process on the same folder (the staff's tools) under the same umask.
    let holds = stdout(&run(&data, &["holds"]));
    assert!(holds.contains("TS-20261123-0002"), "{holds}");

    let entries = assert_owner_only(&data);
    let names: Vec<String> = entries
        .iter()
        .filter_map(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .collect();
    for expected in [
        "secrets.json",
        "mallguard.db",
        "mallguard.db-wal",
        "mallguard.db-shm",
        "outbox",
    ] {
        assert!(names.iter().any(|n| n == expected), "{expected} missing from {names:?}");
    }
    let mails = names.iter().filter(|n| n.ends_with(".eml")).count();
    assert!(
        mails >= 2,
        "the notice and the staff alert are in the outbox: {names:?}"
    );
    drop(server);

    // An older version left the folder open: the next start closes it, and new files are closed too.
    for path in &entries {
        let loose = if path.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(loose)).unwrap();
    }
    let (_server, url, _) = spawn(permissive(&data, &["serve", "--bind", "127.0.0.1:0"]));
    let third = stdout(&run(
        &data,
        &["send", &event("generic/order-unrelated.json"), "--url", &url],
    ));
    assert!(third.contains("\"accepted\""), "{third}");
    assert_owner_only(&data);
}
