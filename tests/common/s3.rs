//! A throwaway S3 emulator for tests: moto's `moto_server` (`scripts/setup-s3.sh` installs
//! it with boto3 in `~/.cache/hyperflow/s3-venv`, or `HYPERFLOW_S3_VENV`) on a free
//! loopback port, in a temporary directory. Dropping the [`Moto`] stops it.
//!
//! hyperflow reads S3 credentials and the endpoint from the process environment, as
//! users set them, so a test holding a [`Moto`] has `AWS_*` pointing at it; the
//! environment is one per process, so tests holding one run one at a time (the helper
//! holds a lock for the emulator's life).

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Serializes tests that point the process's `AWS_*` variables at their emulator.
static ENVIRONMENT: Mutex<()> = Mutex::new(());

/// The venv: `HYPERFLOW_S3_VENV`, else `~/.cache/hyperflow/s3-venv`.
fn venv_dir() -> PathBuf {
    std::env::var_os("HYPERFLOW_S3_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME").unwrap_or_else(|| ".".into());
            PathBuf::from(home).join(".cache/hyperflow/s3-venv")
        })
}

/// A running `moto_server`; stopped on drop.
pub struct Moto {
    child: Child,
    port: u16,
    python: PathBuf,
    /// The key pair boto3 uses.
    key: (String, String),
    _dir: tempfile::TempDir,
    _environment: MutexGuard<'static, ()>,
}

impl Moto {
    /// Starts moto and points `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`
    /// and `AWS_ENDPOINT_URL` at it. When moto is not installed, prints why `test` is
    /// skipped and returns `None` (panics instead under `HYPERFLOW_REQUIRE_EXTERNAL`, as
    /// CI installs it).
    pub fn start(test: &str) -> Option<Moto> {
        Self::start_with(test, &[])
    }

    /// [`Moto::start`] with moto checking credentials: bucket `bucket` and one IAM user
    /// allowed everything on S3 are made, and `AWS_*` hold that user's key pair. Any other
    /// key pair is refused (`InvalidAccessKeyId`, `SignatureDoesNotMatch`).
    pub fn start_guarded(test: &str, bucket: &str) -> Option<Moto> {
        // moto serves this many requests unauthenticated, then checks every one.
        let mut moto = Self::start_with(test, &[("INITIAL_NO_AUTH_ACTION_COUNT", "4")])?;
        let out = moto.boto3(&format!(
            "iam = boto3.client('iam', endpoint_url=s3.meta.endpoint_url, \
             aws_access_key_id='testing', aws_secret_access_key='testing', \
             region_name='us-east-1')\n\
             s3.create_bucket(Bucket='{bucket}')\n\
             iam.create_user(UserName='hyperflow')\n\
             iam.put_user_policy(UserName='hyperflow', PolicyName='s3', PolicyDocument=json.dumps(\
             {{'Version': '2012-10-17', 'Statement': [{{'Effect': 'Allow', 'Action': 's3:*', \
             'Resource': '*'}}]}}))\n\
             key = iam.create_access_key(UserName='hyperflow')['AccessKey']\n\
             print(key['AccessKeyId'], key['SecretAccessKey'])"
        ));
        let (id, secret) = out.trim().split_once(' ').expect("a key pair");
        moto.set_credentials(id, secret);
        moto.key = (id.to_string(), secret.to_string());
        Some(moto)
    }

    /// Points `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` at this key pair (the
    /// caller holds the environment while it holds the emulator).
    pub fn set_credentials(&self, id: &str, secret: &str) {
        // SAFETY: see `start_with`.
        unsafe {
            std::env::set_var("AWS_ACCESS_KEY_ID", id);
            std::env::set_var("AWS_SECRET_ACCESS_KEY", secret);
        }
    }

    fn start_with(test: &str, env: &[(&str, &str)]) -> Option<Moto> {
        let venv = venv_dir();
        let server = venv.join("bin/moto_server");
        let python = venv.join("bin/python");
        if !server.exists() || !python.exists() {
            assert!(
                std::env::var_os("HYPERFLOW_REQUIRE_EXTERNAL").is_none(),
                "{test}: moto_server is not installed in {}, and HYPERFLOW_REQUIRE_EXTERNAL \
                 is set",
                venv.display()
            );
            eprintln!(
                "SKIPPED {test}: moto_server is not installed in {}. Run scripts/setup-s3.sh \
                 (or set HYPERFLOW_S3_VENV) to enable it.",
                venv.display()
            );
            return None;
        }
        let environment = ENVIRONMENT.lock().unwrap_or_else(|e| e.into_inner());
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let dir = tempfile::tempdir().expect("temp dir");
        let child = Command::new(&server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .current_dir(dir.path())
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        let moto = Moto {
            child,
            port,
            python,
            key: ("testing".to_string(), "testing".to_string()),
            _dir: dir,
            _environment: environment,
        };
        // Readiness, not a timing assertion: moto takes a second or two to listen.
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto_server did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        // SAFETY: the tests that read or write these variables hold ENVIRONMENT, and every
        // access goes through std::env, which locks the environment.
        moto.set_credentials("testing", "testing");
        unsafe {
            std::env::set_var("AWS_REGION", "us-east-1");
            std::env::set_var("AWS_ENDPOINT_URL", moto.endpoint());
            std::env::remove_var("AWS_SESSION_TOKEN");
        }
        Some(moto)
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Runs `code` with the venv's python and boto3's S3 client as `s3` (moto's own API,
    /// not hyperflow's code); returns its standard output.
    pub fn boto3(&self, code: &str) -> String {
        let prelude = format!(
            "import boto3, json, sys\n\
             s3 = boto3.client('s3', endpoint_url='{}', aws_access_key_id='{}', \
             aws_secret_access_key='{}', region_name='us-east-1')\n",
            self.endpoint(),
            self.key.0,
            self.key.1
        );
        let out = Command::new(&self.python)
            .args(["-c", &format!("{prelude}{code}")])
            .output()
            .expect("run python");
        assert!(
            out.status.success(),
            "boto3 failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Creates bucket `name`.
    pub fn create_bucket(&self, name: &str) {
        self.boto3(&format!("s3.create_bucket(Bucket='{name}')"));
    }

    /// Every key in bucket `name` with its size, sorted, as moto's S3 API lists them.
    pub fn objects(&self, name: &str) -> Vec<(String, u64)> {
        let out = self.boto3(&format!(
            "keys = []\n\
             for page in s3.get_paginator('list_objects_v2').paginate(Bucket='{name}'):\n\
             \x20   keys += [[o['Key'], o['Size']] for o in page.get('Contents', [])]\n\
             print(json.dumps(sorted(keys)))"
        ));
        serde_json::from_str(out.trim()).expect("a JSON listing")
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
