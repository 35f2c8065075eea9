//! The `tripline` binary; everything lives in the `tripline_cli` library so it is unit-tested.

fn main() -> std::process::ExitCode {
    tripline_cli::main()
}
