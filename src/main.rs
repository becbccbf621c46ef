fn main() -> std::process::ExitCode {
    switchboard::app::cli::main()
}
