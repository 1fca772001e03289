//! divan benchmarks of decodeing throughput (placeholder until the benchmark lands).

fn main() {
    divan::main();
}
