//! A throwaway PostgreSQL server for tests: `initdb` and `pg_ctl` (Debian's `postgresql`
//! package, `scripts/setup-postgres.sh`) start a cluster in a temporary directory on a free
//! loopback port, as the `postgres` user when the tests run as root (PostgreSQL refuses to
//! run as root) and as the current user otherwise. Dropping the [`PgServer`] stops it.

use std::ffi::OsStr;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The directory with `initdb`, `pg_ctl` and `createdb`: `HYPERFLOW_PG_BINDIR`, else the
/// one of the `initdb` on `PATH`, else the newest `/usr/lib/postgresql/*/bin`.
fn bin_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("HYPERFLOW_PG_BINDIR") {
        let dir = PathBuf::from(dir);
        return dir.join("initdb").exists().then_some(dir);
    }
    // The directory initdb really is in (a PATH entry may be a symlink to it), which also
    // holds createdb.
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .find(|d| d.join("initdb").exists() && d.join("pg_ctl").exists())
            .and_then(|d| {
                Some(
                    d.join("initdb")
                        .canonicalize()
                        .ok()?
                        .parent()?
                        .to_path_buf(),
                )
            })
    });
    on_path.or_else(|| {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| Some(e.ok()?.path().join("bin")))
            .filter(|d| d.join("initdb").exists())
            .collect();
        // Version directories ("15", "16"): the newest sorts last by number.
        dirs.sort_by_key(|d| {
            d.parent()
                .and_then(|v| v.file_name()?.to_str()?.parse::<u32>().ok())
                .unwrap_or(0)
        });
        dirs.pop()
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A running PostgreSQL cluster in a temporary directory; stopped on drop.
pub struct PgServer {
    bin: PathBuf,
    data: PathBuf,
    as_postgres: bool,
    port: u16,
    user: String,
    _dir: tempfile::TempDir,
}

impl PgServer {
    /// Start a cluster with one database, `hyperflow`. When PostgreSQL is not installed,
    /// prints why `test` is skipped and returns `None` (panics instead under
    /// `HYPERFLOW_REQUIRE_EXTERNAL`, as CI installs it).
    pub fn start(test: &str) -> Option<PgServer> {
        Self::start_with(test, false)
    }

    /// As [`PgServer::start`], with TLS on (`ssl=on`): a server certificate for
    /// `127.0.0.1` signed by a throwaway certificate authority ([`PgServer::ca_cert`]),
    /// made with the openssl command.
    pub fn start_with_tls(test: &str) -> Option<PgServer> {
        Self::start_with(test, true)
    }

    /// The certificate authority that signed the server's certificate (with TLS on).
    pub fn ca_cert(&self) -> PathBuf {
        self._dir.path().join("ca.crt")
    }

    /// Makes a certificate authority and a server certificate for 127.0.0.1 signed by it;
    /// returns the server's options that turn TLS on with them.
    fn make_certificates(&self) -> String {
        let dir = self._dir.path();
        let ext = dir.join("server.ext");
        std::fs::write(
            &ext,
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n",
        )
        .expect("write server.ext");
        let key = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        let steps: [Vec<&str>; 3] = [
            [
                &["req", "-x509"][..],
                &key,
                &[
                    "-keyout",
                    "ca.key",
                    "-out",
                    "ca.crt",
                    "-days",
                    "2",
                    "-subj",
                    "/CN=hyperflow test CA",
                ],
            ]
            .concat(),
            [
                &["req"][..],
                &key,
                &[
                    "-keyout",
                    "server.key",
                    "-out",
                    "server.csr",
                    "-subj",
                    "/CN=127.0.0.1",
                ],
            ]
            .concat(),
            vec![
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "server.crt",
                "-days",
                "2",
                "-extfile",
                "server.ext",
            ],
        ];
        for args in steps {
            let out = Command::new("openssl")
                .args(&args)
                .current_dir(dir)
                .output()
                .expect("run openssl");
            assert!(out.status.success(), "openssl {args:?}: {out:?}");
        }
        let (crt, key) = (dir.join("server.crt"), dir.join("server.key"));
        std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .expect("chmod server.key");
        if self.as_postgres {
            let out = Command::new("chown")
                .arg("postgres:")
                .args([&crt, &key])
                .output()
                .expect("run chown");
            assert!(out.status.success(), "chown: {out:?}");
        }
        format!(
            " -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
            crt.display(),
            key.display()
        )
    }

    fn start_with(test: &str, tls: bool) -> Option<PgServer> {
        let Some(bin) = bin_dir() else {
            assert!(
                std::env::var_os("HYPERFLOW_REQUIRE_EXTERNAL").is_none(),
                "{test}: PostgreSQL's initdb and pg_ctl are not installed, and \
                 HYPERFLOW_REQUIRE_EXTERNAL is set"
            );
            eprintln!(
                "SKIPPED {test}: PostgreSQL's initdb and pg_ctl are not installed. Run \
                 scripts/setup-postgres.sh (or set HYPERFLOW_PG_BINDIR) to enable it."
            );
            return None;
        };
        let as_postgres = is_root();
        let dir = tempfile::tempdir().expect("temp dir");
        let user = if as_postgres {
            let out = Command::new("chown")
                .arg("postgres:")
                .arg(dir.path())
                .output()
                .expect("run chown");
            assert!(
                out.status.success(),
                "chown postgres {}: {out:?}",
                dir.path().display()
            );
            "postgres".to_string()
        } else {
            std::env::var("USER").unwrap_or_else(|_| "postgres".into())
        };
        let mut server = PgServer {
            data: dir.path().join("data"),
            bin,
            as_postgres,
            port: 0,
            user,
            _dir: dir,
        };
        server.run(
            "initdb",
            &[
                "-D".as_ref(),
                server.data.as_os_str(),
                "-U".as_ref(),
                server.user.as_ref(),
                "--auth=trust".as_ref(),
                "-E".as_ref(),
                "UTF8".as_ref(),
                "--no-sync".as_ref(),
            ],
        );
        let tls_options = if tls {
            server.make_certificates()
        } else {
            String::new()
        };
        // A free port can be taken between asking for it and the server binding it: try a
        // few.
        for attempt in 0.. {
            server.port = free_port();
            let options = format!(
                "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off{tls_options}",
                server.port,
                server._dir.path().display()
            );
            let log = server._dir.path().join("server.log");
            let out = server.command(
                "pg_ctl",
                &[
                    "-D".as_ref(),
                    server.data.as_os_str(),
                    "-w".as_ref(),
                    "-l".as_ref(),
                    log.as_os_str(),
                    "-o".as_ref(),
                    options.as_ref(),
                    "start".as_ref(),
                ],
            );
            if out.status.success() {
                break;
            }
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            assert!(attempt < 3, "pg_ctl start failed: {out:?}\n{log}");
        }
        let port = server.port.to_string();
        let user = server.user.clone();
        server.run(
            "createdb",
            &["-h", "127.0.0.1", "-p", &port, "-U", &user, "hyperflow"].map(OsStr::new),
        );
        Some(server)
    }

    /// Restarts the server on its port, cutting every open connection (a fast shutdown,
    /// as a restart for an upgrade or a failover does).
    pub fn restart(&self) {
        // With its log file, as it was started: without one the new server would write to
        // (and hold open) the pipe this call reads pg_ctl's output from.
        let log = self._dir.path().join("server.log");
        let out = self.command(
            "pg_ctl",
            &[
                "-D".as_ref(),
                self.data.as_os_str(),
                "-l".as_ref(),
                log.as_os_str(),
                "-m".as_ref(),
                "fast".as_ref(),
                "-w".as_ref(),
                "restart".as_ref(),
            ],
        );
        assert!(out.status.success(), "pg_ctl restart failed: {out:?}");
    }

    /// `postgresql://USER@127.0.0.1:PORT/hyperflow`.
    pub fn uri(&self) -> String {
        format!(
            "postgresql://{}@127.0.0.1:{}/hyperflow",
            self.user, self.port
        )
    }

    /// The database user (trusted: no password).
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The port the server listens on (loopback).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Data directory of the cluster.
    pub fn data_dir(&self) -> &Path {
        &self.data
    }

    /// Runs `sql` in database `hyperflow` with `psql` (stopping at the first error);
    /// returns its output, unaligned and without headers.
    pub fn psql(&self, sql: &str) -> String {
        let port = self.port.to_string();
        let args = [
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-U",
            &self.user,
            "-d",
            "hyperflow",
            "-v",
            "ON_ERROR_STOP=1",
            "-At",
            "-c",
            sql,
        ]
        .map(OsStr::new);
        let out = self.command("psql", &args);
        assert!(
            out.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn command(&self, program: &str, args: &[&OsStr]) -> Output {
        let path = self.bin.join(program);
        let mut c = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        c.args(args)
            .output()
            .unwrap_or_else(|e| panic!("run {}: {e}", path.display()))
    }

    fn run(&self, program: &str, args: &[&OsStr]) {
        let out = self.command(program, args);
        assert!(
            out.status.success(),
            "{program} failed: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let out = self.command(
            "pg_ctl",
            &[
                "-D".as_ref(),
                self.data.as_os_str(),
                "-m".as_ref(),
                "immediate".as_ref(),
                "stop".as_ref(),
            ],
        );
        if !out.status.success() {
            eprintln!("pg_ctl stop failed: {out:?}");
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a loopback port")
        .port()
}
