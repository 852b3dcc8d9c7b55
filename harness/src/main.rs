fn main() {
    std::process::exit(kharness::cli::main());
}
