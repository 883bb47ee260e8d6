fn main() {
    std::process::exit(gate::cli::main());
}
