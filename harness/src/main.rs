fn main() {
    std::process::exit(kharness::commands::main());
}
