//! Links the addon the way Node expects (`napi_build::setup`).

fn main() {
    napi_build::setup();
}
