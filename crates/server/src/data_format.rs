//! The format of a data directory as a whole, recorded in its `FORMAT`
//! file, so that a build never misreads a directory laid out by another.
//!
//! Within the directory each part carries its own marker as well: metadata
//! records start with a version byte (`coffer_meta::records`), blob files
//! end with a magic footer (`coffer_blob`). This file covers what those
//! cannot: the set of files and tables, and redb's own file format. A build
//! opens directories of its format or older (upgrading them, should a
//! later format need it) and refuses newer ones with a clear message
//! instead of guessing.
//!
//! Format history:
//! - 1: `meta.redb` (redb 4), `blobs/XX/ID` files with CRC32C per 64 KiB
//!   block and a CFB1 footer, `tmp/`, `root-credentials`. Directories made
//!   before this file existed are format 1.

use std::io::Write as _;
use std::path::Path;

use anyhow::{Context as _, bail};

/// The format this build writes.
pub const CURRENT: u32 = 1;

const FILE: &str = "FORMAT";
const HEADER: &str = "coffer data directory";

/// Checks `dir`'s format before anything else opens it, and records it in
/// a directory that has none yet (new, or made before formats were
/// recorded). Returns the format found.
pub fn prepare(dir: &Path) -> anyhow::Result<u32> {
    let path = dir.join(FILE);
    let (found, recorded) = match std::fs::read_to_string(&path) {
        Ok(text) => (
            parse(&text).with_context(|| format!("{} is not readable", path.display()))?,
            true,
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if !dir.join("meta.redb").exists() {
                // A new directory.
                write(dir, CURRENT)?;
                return Ok(CURRENT);
            }
            // Data without a marker: format 1, the only format made
            // before the marker.
            (1, false)
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    if found > CURRENT {
        bail!(
            "{} holds data in format {found}, made by a newer Coffer; this build reads formats up to {CURRENT}. Run a newer coffer on it (nothing was changed).",
            dir.display()
        );
    }
    // Formats older than CURRENT would be upgraded here, one step at a
    // time, before the marker is rewritten. Format 1 is the first.
    if !recorded || found < CURRENT {
        write(dir, CURRENT)?;
    }
    Ok(found)
}

/// [`prepare`] for tools that must not change the directory (`coffer
/// scrub`): a directory without a marker is format 1.
pub fn check(dir: &Path) -> anyhow::Result<u32> {
    let path = dir.join(FILE);
    let found = match std::fs::read_to_string(&path) {
        Ok(text) => parse(&text).with_context(|| format!("{} is not readable", path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 1,
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    if found > CURRENT {
        bail!(
            "{} holds data in format {found}, made by a newer Coffer; this build reads formats up to {CURRENT}.",
            dir.display()
        );
    }
    Ok(found)
}

fn parse(text: &str) -> anyhow::Result<u32> {
    let mut lines = text.lines();
    if lines.next() != Some(HEADER) {
        bail!("its first line is not {HEADER:?}");
    }
    let format = lines
        .next()
        .and_then(|l| l.strip_prefix("format "))
        .context("its second line is not `format N`")?;
    format
        .trim()
        .parse()
        .with_context(|| format!("{format:?} is not a format number"))
}

/// Writes the marker durably: a temporary file, fsynced, renamed over the
/// old one, then the directory fsynced.
fn write(dir: &Path, format: u32) -> anyhow::Result<()> {
    let tmp = dir.join(format!("{FILE}.tmp"));
    let mut f =
        std::fs::File::create(&tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
    writeln!(f, "{HEADER}\nformat {format}")?;
    f.sync_all()?;
    std::fs::rename(&tmp, dir.join(FILE))?;
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_directory_gets_the_current_format() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(prepare(dir.path()).unwrap(), 1);
        let text = std::fs::read_to_string(dir.path().join(FILE)).unwrap();
        assert_eq!(text, format!("{HEADER}\nformat {CURRENT}\n"));
        assert_eq!(prepare(dir.path()).unwrap(), CURRENT);
    }

    #[test]
    fn data_from_before_the_marker_is_format_1_and_gets_marked() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("meta.redb"), b"").unwrap();
        assert_eq!(prepare(dir.path()).unwrap(), 1);
        assert_eq!(check(dir.path()).unwrap(), CURRENT);
    }

    #[test]
    fn newer_formats_are_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), format!("{HEADER}\nformat 2\n")).unwrap();
        let err = prepare(dir.path()).unwrap_err().to_string();
        assert!(err.contains("format 2, made by a newer Coffer"), "{err}");
        let text = std::fs::read_to_string(dir.path().join(FILE)).unwrap();
        assert_eq!(text, format!("{HEADER}\nformat 2\n"));
    }

    #[test]
    fn a_damaged_marker_is_an_error_not_a_guess() {
        let dir = tempfile::tempdir().unwrap();
        for text in [
            "",
            "something else\nformat 1\n",
            &format!("{HEADER}\nformat x\n"),
        ] {
            std::fs::write(dir.path().join(FILE), text).unwrap();
            assert!(prepare(dir.path()).is_err(), "{text:?}");
        }
    }
}
