fn main() {
    std::process::exit(kharness_guest::cli::main(
        std::env::args().skip(1).collect(),
    ));
}
