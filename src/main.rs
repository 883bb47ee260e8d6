fn main() {
    std::process::exit(gate::cmd::main());
}
