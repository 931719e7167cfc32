//! The `hyperflow` command: thin handlers over the library.

mod cli;

fn main() -> std::process::ExitCode {
    // Like other Unix tools, die quietly when the reader of our output goes away
    // (`hyperflow runs list | head`) instead of panicking on a broken pipe.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    cli::main()
}
