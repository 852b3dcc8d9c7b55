fn main() {
    if kharness_guest::pid1::is_pid1() {
        kharness_guest::pid1::main();
    }
    std::process::exit(kharness_guest::cli::main(
        std::env::args().skip(1).collect(),
    ));
}
