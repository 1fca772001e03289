//! divan benchmarks of encodeing throughput (placeholder until the benchmark lands).

fn main() {
    divan::main();
}
