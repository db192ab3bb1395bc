//! Finding the PostgreSQL server binaries (`initdb`, `postgres`).

use std::path::{Path, PathBuf};

/// Environment variable naming the directory with `initdb` and `postgres`, overriding the search.
const PG_BIN_ENV: &str = "TALLY_PG_BIN";

/// Where Debian installs one `<major>/bin` directory per PostgreSQL version.
const DEBIAN_PG_ROOT: &str = "/usr/lib/postgresql";

/// The directory with the server binaries: `$TALLY_PG_BIN`, else the newest
/// `/usr/lib/postgresql/<version>/bin` that has `initdb`.
///
/// # Panics
/// If none is found, with a hint on what to install.
pub(crate) fn pg_bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(PG_BIN_ENV) {
        let dir = PathBuf::from(dir);
        assert!(
            dir.join("initdb").is_file(),
            "tally-testkit: {PG_BIN_ENV}={} has no initdb",
            dir.display()
        );
        return dir;
    }
    newest_debian_bin_dir(Path::new(DEBIAN_PG_ROOT)).unwrap_or_else(|| {
        panic!(
            "tally-testkit: no PostgreSQL server found: no {DEBIAN_PG_ROOT}/*/bin/initdb \
             (apt-get install postgresql) and {PG_BIN_ENV} is not set"
        )
    })
}

/// The `<root>/<version>/bin` with `initdb` whose version sorts highest numerically.
fn newest_debian_bin_dir(root: &Path) -> Option<PathBuf> {
    std::fs::read_dir(root)
        .ok()?
        .flatten()
        .filter_map(|entry| {
            let version = version_key(entry.file_name().to_str()?)?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .max_by(|(left, _), (right, _)| left.cmp(right))
        .map(|(_, bin)| bin)
}

/// `"15"` → `[15]`, `"9.6"` → `[9, 6]`; `None` for names that aren't versions.
fn version_key(name: &str) -> Option<Vec<u32>> {
    name.split('.').map(|part| part.parse().ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::version_key;

    #[test]
    fn versions_sort_numerically() {
        assert!(version_key("15") > version_key("9.6"));
        assert!(version_key("16") > version_key("15"));
        assert_eq!(version_key("common"), None);
    }
}
