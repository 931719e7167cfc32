//! The `hyperflow` command: thin handlers over the library.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
