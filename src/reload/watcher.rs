//! The file watcher, on its own thread: it watches the config file's DIRECTORY (not the file),
//! so a save by rename, a `git checkout` and a Kubernetes ConfigMap update (the `..data` symlink
//! flipped to a new directory) are all seen, and a watch never ends up on a deleted inode.
//! Only events about the config file itself (by name, in any watched directory) or about the
//! kubelet's `..`-prefixed entries count: a log file or an editor's swap file next to the config
//! must not cause reloads, nor be logged (a log in that directory would otherwise feed back into
//! itself; for the same reason `notify`'s own per-event logs are capped at `info`, see
//! `cli::init_logging`).
//! Bursts are debounced; each burst becomes one trigger sent to the reload task. When the config
//! path is a symlink, the directory of its target is watched as well, re-resolved after every
//! burst; a watched directory that disappears is watched again once it is back. Secret files
//! are not watched: a rotated one is read at the next reload (touch the config, or SIGHUP).

use super::task::ReloadTrigger;
use notify_debouncer_full::notify::event::{AccessKind, AccessMode};
use notify_debouncer_full::notify::{EventKind, RecursiveMode};
use notify_debouncer_full::DebouncedEvent;
use notify_debouncer_full::{new_debouncer, DebounceEventResult};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;

/// Quiet time after the last event of a burst before it is reported.
pub const DEBOUNCE: Duration = Duration::from_millis(150);
/// How often the thread checks that the reload task still listens and the watches still stand.
const HOUSEKEEPING: Duration = Duration::from_millis(500);

/// Starts the watcher thread. It ends when the reload task is gone.
pub fn spawn(
    config_path: &Path,
    triggers: UnboundedSender<ReloadTrigger>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let config_path = config_path.to_path_buf();
    std::thread::Builder::new()
        .name("config-watcher".into())
        .spawn(move || watch(&config_path, &triggers))
}

fn watch(config_path: &Path, triggers: &UnboundedSender<ReloadTrigger>) {
    let (tx, rx) = mpsc::channel::<DebounceEventResult>();
    let mut debouncer = match new_debouncer(DEBOUNCE, None, tx) {
        Ok(d) => d,
        Err(e) => {
            tracing::error!(
                "cannot watch the configuration ({e}): reload it with SIGHUP after changing it"
            );
            return;
        }
    };
    let mut watched: Vec<PathBuf> = Vec::new();
    let mut unwatchable: Vec<PathBuf> = Vec::new();
    let mut first = true;
    loop {
        let wanted = Targets::of(config_path);
        for dir in wanted.dirs.iter().cloned() {
            if watched.contains(&dir) {
                continue;
            }
            match debouncer.watch(&dir, RecursiveMode::NonRecursive) {
                Ok(()) => {
                    tracing::debug!("watching {} for configuration changes", dir.display());
                    unwatchable.retain(|d| *d != dir);
                    watched.push(dir);
                }
                // Retried at the next housekeeping tick: the directory may be coming back.
                Err(e) if !unwatchable.contains(&dir) => {
                    tracing::warn!("cannot watch {} ({e}): retrying", dir.display());
                    unwatchable.push(dir);
                }
                Err(_) => {}
            }
        }
        // A change made between the start-up load and the first watch would go unseen.
        if std::mem::take(&mut first) && triggers.send(ReloadTrigger::FileChanged).is_err() {
            return;
        }
        match rx.recv_timeout(HOUSEKEEPING) {
            Ok(Ok(events)) => {
                // Only events about the config are logged: logging the others would feed a
                // log file kept in this directory back into itself.
                for e in events.iter().filter(|e| wanted.concerns(e)) {
                    tracing::trace!(kind = ?e.kind, paths = ?e.paths, "config directory event");
                }
                // A removed directory loses its watch; take it off the list to watch it again.
                for event in &events {
                    if matches!(event.kind, EventKind::Remove(_)) {
                        watched.retain(|dir| !event.paths.contains(dir));
                    }
                }
                let relevant = events
                    .iter()
                    .any(|e| is_change(&e.kind) && wanted.concerns(e));
                // After a Kubernetes flip the target directory is another one.
                let now_wanted = Targets::of(config_path);
                for dir in watched.clone() {
                    if !now_wanted.dirs.contains(&dir) {
                        let _ = debouncer.unwatch(&dir);
                        watched.retain(|d| *d != dir);
                    }
                }
                if relevant && triggers.send(ReloadTrigger::FileChanged).is_err() {
                    return;
                }
            }
            Ok(Err(errors)) => {
                for e in errors {
                    tracing::warn!("watching the configuration: {e}");
                }
                // The watched paths may be gone: start over.
                for dir in std::mem::take(&mut watched) {
                    let _ = debouncer.unwatch(&dir);
                }
                if triggers.send(ReloadTrigger::FileChanged).is_err() {
                    return;
                }
            }
            Err(RecvTimeoutError::Timeout) if triggers.is_closed() => return,
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// What to watch for a config path: directories, and the file names in them that matter.
#[derive(Debug, PartialEq)]
struct Targets {
    /// The config file's directory, and that of the file it resolves to when it is a symlink.
    dirs: Vec<PathBuf>,
    /// The config file's name, and that of the file it resolves to.
    names: Vec<OsString>,
}

impl Targets {
    fn of(config_path: &Path) -> Self {
        let parent = |p: &Path| match p.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let mut dirs = vec![parent(config_path)];
        let mut names: Vec<OsString> = config_path
            .file_name()
            .into_iter()
            .map(Into::into)
            .collect();
        if let Ok(real) = std::fs::canonicalize(config_path) {
            let real_dir = parent(&real);
            if !std::fs::canonicalize(&dirs[0]).is_ok_and(|d| d == real_dir) {
                dirs.push(real_dir);
            }
            if let Some(name) = real.file_name().filter(|n| !names.iter().any(|m| m == n)) {
                names.push(name.into());
            }
        }
        Self { dirs, names }
    }

    /// The event is about the config file, a watched directory itself, or the kubelet's
    /// `..data` / `..<timestamp>` entries; a rescan request says events were lost.
    fn concerns(&self, event: &DebouncedEvent) -> bool {
        event.need_rescan()
            || event.paths.is_empty()
            || event.paths.iter().any(|p| {
                self.dirs.contains(p)
                    || p.file_name().is_some_and(|n| {
                        self.names.iter().any(|m| m == n)
                            || n.to_str().is_some_and(|n| n.starts_with(".."))
                    })
            })
    }
}

/// Reading a file (our own reloads included) opens and closes it: not a change.
fn is_change(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify_debouncer_full::notify::event::{CreateKind, ModifyKind};

    #[test]
    fn reads_are_not_changes_but_writes_renames_and_removals_are() {
        assert!(!is_change(&EventKind::Access(AccessKind::Open(
            AccessMode::Any
        ))));
        assert!(!is_change(&EventKind::Access(AccessKind::Close(
            AccessMode::Read
        ))));
        assert!(is_change(&EventKind::Access(AccessKind::Close(
            AccessMode::Write
        ))));
        assert!(is_change(&EventKind::Create(CreateKind::File)));
        assert!(is_change(&EventKind::Modify(ModifyKind::Any)));
        assert!(is_change(&EventKind::Remove(
            notify_debouncer_full::notify::event::RemoveKind::Any
        )));
    }

    #[test]
    fn a_symlinked_config_has_its_target_directory_and_name_watched_too() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("..2026_01_01");
        std::fs::create_dir(&real).unwrap();
        std::fs::write(real.join("actual.yaml"), "x").unwrap();
        std::os::unix::fs::symlink("..2026_01_01", dir.path().join("..data")).unwrap();
        std::os::unix::fs::symlink("..data/actual.yaml", dir.path().join("routes.yaml")).unwrap();
        let targets = Targets::of(&dir.path().join("routes.yaml"));
        assert_eq!(
            targets.dirs,
            [
                dir.path().to_path_buf(),
                std::fs::canonicalize(&real).unwrap()
            ]
        );
        assert_eq!(targets.names, ["routes.yaml", "actual.yaml"]);
        assert_eq!(
            Targets::of(Path::new("no-such-routes.yaml")).dirs,
            [PathBuf::from(".")]
        );
    }

    #[test]
    fn only_events_about_the_config_or_kubernetes_entries_concern_it() {
        let targets = Targets::of(Path::new("/etc/hookroute/routes.yaml"));
        let event = |path: &str| {
            DebouncedEvent::new(
                notify_debouncer_full::notify::Event::new(EventKind::Modify(ModifyKind::Any))
                    .add_path(PathBuf::from(path)),
                std::time::Instant::now(),
            )
        };
        assert!(targets.concerns(&event("/etc/hookroute/routes.yaml")));
        assert!(targets.concerns(&event("/etc/hookroute/..data")));
        assert!(targets.concerns(&event("/etc/hookroute/..2026_01_01_v2")));
        assert!(targets.concerns(&event("/etc/hookroute")));
        assert!(!targets.concerns(&event("/etc/hookroute/hookroute.log")));
        assert!(!targets.concerns(&event("/etc/hookroute/.routes.yaml.swp")));
        assert!(!targets.concerns(&event("/etc/hookroute/routes.yaml.tmp-write")));
    }
}
