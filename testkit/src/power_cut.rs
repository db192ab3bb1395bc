//! [`PowerCutDir`]: a FUSE passthrough directory whose [`cut`](PowerCutDir::cut) simulates a power
//! loss, so a test can show which of a program's writes were durable.
//!
//! The program under test keeps its files under [`PowerCutDir::path`]; every request is passed
//! through to a scratch backing directory by a FUSE server on a background thread of the test
//! process. What survives a cut:
//!
//! - **Metadata is durable at once**: create, mkdir, unlink, rmdir, rename, and truncation or
//!   extension through `setattr` (`ftruncate`, `O_TRUNC`) survive a cut without any fsync, as on
//!   a filesystem that journals metadata synchronously. Ordering between data and metadata is not
//!   modelled: a file created, written and renamed without fsync survives the cut under its new
//!   name, empty.
//! - **File data is durable only once synced**: a write reaches the backing file at once (reads
//!   see it, and it survives the program being killed), but until the file is fsynced or
//!   fdatasynced (through any of its open handles; the two are the same here) the cut undoes it.
//!   For each written file the filesystem records its size at the last sync, which the cut
//!   truncates back to, and the old bytes of every write below that size, which the cut writes
//!   back newest first. Appends cost no copying. Writes through a handle opened with `O_SYNC` or
//!   `O_DSYNC` are durable when they return. A truncation keeps the new size; unsynced bytes
//!   below it become zeros on a cut.
//! - fsync of a directory succeeds and changes nothing (its entries are durable anyway).
//!
//! Not modelled: torn or reordered writes (a cut undoes whole writes since the sync, never part
//! of one); data of files unlinked or renamed over (forgotten, as they are gone); a program that
//! keeps files open across the cut (the kernel's cached size of an open file may put its next
//! `O_APPEND` write past the new end: stop the program first); `mmap` with `MAP_SHARED` (refused
//! under direct I/O); symlinks, hard links, special files, extended attributes, `fallocate`
//! (not implemented: they fail). Locks are the kernel's local ones. The backing files are never
//! fsynced themselves: nothing really loses power.
//!
//! The kernel caches nothing: files are opened with `FOPEN_DIRECT_IO` and names and attributes
//! have a zero TTL, so a program started after the cut reads the cut files. As root the mount
//! goes through `fusermount3 -o auto_unmount`, which unmounts it when the test process dies; a
//! mount left dead anyway (or by a run as another user) is unmounted by the next process's first
//! [`PowerCutDir::mount`].

mod attr;
mod fs;
mod inodes;
mod journal;
mod state;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, Once, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use fuser::{Config, MountOption, Session, SessionACL, SessionUnmounter};
use tempfile::TempDir;

use self::fs::PowerCutFs;
pub use self::journal::CutReport;
use self::state::State;
use crate::scratch::scratch_dir;

/// How long unmounting may take before the drop gives up waiting for the FUSE thread (a process
/// still holding a file open keeps a lazily unmounted filesystem alive).
const UNMOUNT_TIMEOUT: Duration = Duration::from_secs(10);

/// Pause between two checks whether the FUSE thread has finished.
const UNMOUNT_POLL_INTERVAL: Duration = Duration::from_millis(10);

/// Debian's fuse3 package: mounts with `auto_unmount` (as root) and unmounts.
const FUSERMOUNT: &str = "fusermount3";

/// Name of the mount in `/proc/mounts`, so a leftover is recognisable.
const FS_NAME: &str = "tally-power-cut";

/// Where the kernel lists mounts, one a line: source (our [`FS_NAME`]), mountpoint, type, ...
const MOUNTS_FILE: &str = "/proc/mounts";

/// Dead leftovers are swept once per process, before its first mount.
static SWEEP_DEAD_MOUNTS: Once = Once::new();

/// A mounted power-cut directory; dropping it unmounts it and removes its files.
///
/// ```no_run
/// use tally_testkit::{PowerCutDir, RedisServer};
///
/// let dir = PowerCutDir::mount();
/// let redis = RedisServer::options()
///     .append_only("everysec")
///     .data_dir(dir.path())
///     .start();
/// // ... writes through redis ...
/// redis.stop(); // SIGKILL: the crash
/// let report = dir.cut(); // the power loss: unsynced data goes
/// redis.restart(); // reads what survived
/// # drop(report);
/// ```
#[derive(Debug)]
pub struct PowerCutDir {
    /// The undo records and inode table, shared with the FUSE thread.
    state: Arc<Mutex<State>>,
    /// Where the program under test keeps its files.
    mountpoint: PathBuf,
    /// Unmounts the filesystem, which ends the FUSE thread.
    unmounter: SessionUnmounter,
    /// The FUSE thread serving requests.
    thread: Option<JoinHandle<std::io::Result<()>>>,
    /// Holds `backing/` and `mnt/`; removed after the unmount (fields drop after `Drop::drop`).
    scratch: TempDir,
}

impl PowerCutDir {
    /// Create a scratch backing directory and a mountpoint, mount the filesystem and return once
    /// it answers.
    ///
    /// # Panics
    /// If the mount fails (no `/dev/fuse`, no `fusermount3` for `auto_unmount`, no permission).
    pub fn mount() -> PowerCutDir {
        SWEEP_DEAD_MOUNTS.call_once(unmount_dead_leftovers);
        let scratch = scratch_dir("power-cut");
        let backing = scratch.path().join("backing");
        let mountpoint = scratch.path().join("mnt");
        for dir in [&backing, &mountpoint] {
            std::fs::create_dir(dir).unwrap_or_else(|err| {
                panic!("tally-testkit: could not create {}: {err}", dir.display())
            });
        }
        let state = Arc::new(Mutex::new(State::new()));
        let filesystem = PowerCutFs::new(backing, Arc::clone(&state));
        // Session::new returns after the kernel's INIT handshake: the mount is in place.
        let mounted = Session::new(filesystem, &mountpoint, &mount_config());
        let mut session = mounted.unwrap_or_else(|err| {
            panic!(
                "tally-testkit: could not mount a power-cut directory on {}: {err} \
                 (needs /dev/fuse, and as root fusermount3 from Debian's fuse3)",
                mountpoint.display()
            )
        });
        let unmounter = session.unmount_callable();
        let thread = std::thread::Builder::new()
            .name("power-cut-fuse".to_owned())
            .spawn(move || session.run())
            .expect("tally-testkit: could not start the power-cut FUSE thread");
        let dir = PowerCutDir {
            state,
            mountpoint,
            unmounter,
            thread: Some(thread),
            scratch,
        };
        if let Err(err) = std::fs::read_dir(&dir.mountpoint) {
            panic!(
                "tally-testkit: the power-cut mount {} does not answer: {err}",
                dir.mountpoint.display()
            );
        }
        dir
    }

    /// The mountpoint: where the program under test keeps its files.
    pub fn path(&self) -> &Path {
        &self.mountpoint
    }

    /// Cut the power: undo every byte written since its file's last fsync or fdatasync, and
    /// report what was undone. Stop the program under test first (see the module docs).
    ///
    /// # Panics
    /// If a backing file can't be restored.
    pub fn cut(&self) -> CutReport {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let State {
            inodes, journal, ..
        } = &mut *state;
        let report = journal
            .cut(|ino| inodes.path(ino).map(Path::to_path_buf))
            .unwrap_or_else(|err| panic!("tally-testkit: the power cut failed: {err}"));
        tracing::debug!(?report, mountpoint = %self.mountpoint.display(), "power cut");
        report
    }
}

impl Drop for PowerCutDir {
    fn drop(&mut self) {
        // fusermount3's auto_unmount only acts on a filesystem whose server has died, so unmount
        // here: lazily, in case the program under test still has files open.
        lazy_unmount(&self.mountpoint);
        // Closes fuser's end of the auto-unmount socket (or unmounts, if the above did not).
        if let Err(err) = self.unmounter.unmount() {
            tracing::debug!(%err, mountpoint = %self.mountpoint.display(), "could not unmount");
        }
        let Some(thread) = self.thread.take() else {
            return;
        };
        let deadline = Instant::now() + UNMOUNT_TIMEOUT;
        while !thread.is_finished() && Instant::now() < deadline {
            std::thread::sleep(UNMOUNT_POLL_INTERVAL);
        }
        if thread.is_finished() {
            let _ended = thread.join();
        } else {
            let dir = self.scratch.path().display();
            tracing::debug!(%dir, "FUSE thread still running after unmount: files still open?");
        }
    }
}

/// As root: `allow_other` and `auto_unmount` through fusermount3, so the mount goes away with
/// the test process however it ends. Otherwise a plain mount (`allow_other` would need
/// `user_allow_other` in /etc/fuse.conf).
fn mount_config() -> Config {
    let mut config = Config::default();
    config.mount_options = vec![
        MountOption::FSName(FS_NAME.to_owned()),
        MountOption::DefaultPermissions,
    ];
    let is_root = std::fs::metadata("/proc/self").is_ok_and(|meta| meta.uid() == 0);
    if is_root {
        config.mount_options.push(MountOption::AutoUnmount);
        config.acl = SessionACL::All;
    }
    config
}

/// `fusermount3 -u -z`: detach the mount now; the kernel ends it when its last file closes.
fn lazy_unmount(mountpoint: &Path) {
    let unmounted = Command::new(FUSERMOUNT)
        .args(["-u", "-z", "-q"])
        .arg(mountpoint)
        .stdin(Stdio::null())
        .status();
    if !unmounted.as_ref().is_ok_and(|status| status.success()) {
        tracing::debug!(?unmounted, mountpoint = %mountpoint.display(), "fusermount3 -u failed");
    }
}

/// Unmount power-cut mounts whose FUSE server is gone (its test process was killed, and
/// auto-unmount did not act or was not on): they answer `ENOTCONN`, and their scratch
/// directories can't be removed while they stay.
fn unmount_dead_leftovers() {
    let Ok(mounts) = std::fs::read_to_string(MOUNTS_FILE) else {
        return;
    };
    let not_connected = rustix::io::Errno::NOTCONN.raw_os_error();
    for line in mounts.lines() {
        let mut fields = line.split(' ');
        let (Some(FS_NAME), Some(mountpoint)) = (fields.next(), fields.next()) else {
            continue;
        };
        let dead = std::fs::metadata(mountpoint)
            .is_err_and(|err| err.raw_os_error() == Some(not_connected));
        if dead {
            tracing::debug!(mountpoint, "unmounting a dead power-cut mount");
            lazy_unmount(Path::new(mountpoint));
        }
    }
}
