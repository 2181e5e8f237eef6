//! The embedded broker: `arus up` without `ARUS_KAFKA_BROKERS` starts tansu
//! (an Apache-Kafka-compatible broker) as a child process on loopback, with
//! its storage under the data directory so a restart keeps the topics, and
//! stops it on exit.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use tokio::process::{Child, Command};

/// A running tansu child process.
pub struct EmbeddedBroker {
    child: Child,
    /// `127.0.0.1:PORT`, for `ARUS_KAFKA_BROKERS`.
    pub brokers: String,
    pub dir: PathBuf,
    pub cluster_id: String,
}

/// Finds the tansu executable: `bin` itself when it is a path, else on
/// `PATH`, else in `~/.cargo/bin` (where `deploy/kafka-dev.sh install` puts it).
pub fn find_tansu(bin: &str) -> Option<PathBuf> {
    let candidate = Path::new(bin);
    if candidate.components().count() > 1 {
        return candidate.is_file().then(|| candidate.to_owned());
    }
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join(bin)).collect::<Vec<_>>())
        .unwrap_or_default();
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    on_path.into_iter().chain(cargo_home.map(|c| c.join("bin").join(bin))).find(|p| p.is_file())
}

impl EmbeddedBroker {
    /// Starts tansu on `127.0.0.1:port` with `storage` (`sqlite` or `memory`)
    /// under `dir`, and waits until it accepts connections.
    pub async fn start(bin: &str, dir: &Path, port: u16, storage: &str) -> Result<Self> {
        let tansu = find_tansu(bin).with_context(|| {
            format!("tansu ({bin}) not found on PATH or in ~/.cargo/bin; install it with `deploy/kafka-dev.sh install`, or set ARUS_KAFKA_BROKERS to use a running cluster")
        })?;
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let dir = std::path::absolute(dir)?;
        stop_leftover(&dir).await;
        if std::net::TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(200)).is_ok() {
            bail!("port {port} is already in use; stop what listens there or set ARUS_EMBEDDED_BROKER_PORT");
        }
        let cluster_id = cluster_id(&dir, storage)?;
        // tansu 0.6 takes the sqlite path relative to its working directory.
        let engine = match storage {
            "sqlite" => "sqlite://tansu.db".to_owned(),
            "memory" => "memory://tansu/".to_owned(),
            other => bail!("unknown embedded broker storage {other:?} (sqlite or memory)"),
        };
        let url = format!("tcp://127.0.0.1:{port}");
        let log = std::fs::File::create(dir.join("tansu.log"))?;
        let child = Command::new(&tansu)
            .current_dir(&dir)
            .args(["broker", "--listener-url", &url, "--advertised-listener-url", &url])
            .args(["--storage-engine", &engine, "--cluster-id", &cluster_id])
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", tansu.display()))?;
        if let Some(pid) = child.id() {
            std::fs::write(dir.join("tansu.pid"), pid.to_string())?;
        }
        let mut broker = EmbeddedBroker { child, brokers: format!("127.0.0.1:{port}"), dir: dir.clone(), cluster_id };
        let started = Instant::now();
        loop {
            if let Some(status) = broker.child.try_wait()? {
                let tail = std::fs::read_to_string(dir.join("tansu.log")).unwrap_or_default();
                let tail: String = tail.lines().rev().take(10).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
                bail!("tansu exited at start ({status}):\n{tail}");
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                break;
            }
            if started.elapsed() > Duration::from_secs(15) {
                bail!("tansu did not accept connections on port {port} within 15 s (see {}/tansu.log)", dir.display());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tracing::info!(brokers = %broker.brokers, storage, dir = %dir.display(), "embedded broker (tansu) started");
        Ok(broker)
    }

    /// Stops the broker: SIGTERM, then SIGKILL after five seconds.
    pub async fn stop(mut self) -> Result<()> {
        if let Some(pid) = self.child.id() {
            // SAFETY: kill(2) on our own child's pid has no memory effects.
            unsafe { libc::kill(pid as i32, libc::SIGTERM) };
        }
        match tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await {
            Ok(status) => {
                status?;
            }
            Err(_) => self.child.kill().await?,
        }
        let _ = std::fs::remove_file(self.dir.join("tansu.pid"));
        tracing::info!(brokers = %self.brokers, "embedded broker stopped");
        Ok(())
    }
}

/// Stops a tansu left running from `dir` by an `arus up` that was killed
/// before it could stop its child (SIGKILL, power loss).
async fn stop_leftover(dir: &Path) {
    let Some(pid) = std::fs::read_to_string(dir.join("tansu.pid")).ok().and_then(|p| p.trim().parse::<i32>().ok()) else {
        return;
    };
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let ours = String::from_utf8_lossy(&cmdline).contains("tansu")
        && std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd == dir);
    if ours {
        tracing::warn!(pid, dir = %dir.display(), "stopping an embedded broker left running by an earlier arus");
        // SAFETY: kill(2) on a pid we verified is a tansu started from this directory.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        for _ in 0..100 {
            if !Path::new(&format!("/proc/{pid}")).exists() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let _ = std::fs::remove_file(dir.join("tansu.pid"));
}

/// The cluster id of the embedded broker. With sqlite storage it is kept in
/// `dir/cluster-id` so restarts keep it; memory storage forgets every topic
/// on exit, so it gets a fresh id each start and stored offsets of an
/// earlier run are recognised as belonging to another cluster.
fn cluster_id(dir: &Path, storage: &str) -> Result<String> {
    let fresh = || format!("arus-{}", uuid::Uuid::new_v4().simple());
    if storage != "sqlite" {
        return Ok(fresh());
    }
    let path = dir.join("cluster-id");
    if let Ok(id) = std::fs::read_to_string(&path) {
        let id = id.trim().to_owned();
        if !id.is_empty() {
            return Ok(id);
        }
    }
    let id = fresh();
    std::fs::write(&path, &id).with_context(|| format!("writing {}", path.display()))?;
    Ok(id)
}
